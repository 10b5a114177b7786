// The trail's fan-out to sinks through their channels: every line reaches each sink in chain
// order, a sink that is down holds up no decision (async) or refuses them (required), the buffer
// stays bounded, and every line a sink did not get is declared by an overflow record — lines
// delivered + lines declared dropped = lines offered.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { chainBreak, declaredDrops, MemorySink, sampleDecision } from '../../../../test/support/audit-sink.ts';
import { AuditTrail, type AuditSinkSettings } from '../trail.ts';
import { verifyAuditFile } from '../verify.ts';
import { SinkWriteError } from './sink.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-audit-sinks-'));
let n = 0;
const fresh = () => join(dir, `trail-${++n}`, 'audit.jsonl');
const fileLines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);

async function metric(registry: Registry, name: string, sink: string): Promise<number | undefined> {
  return (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.sink === sink)?.value;
}

async function open(sinks: AuditSinkSettings[], extra: { sinkCloseTimeoutMs?: number } = {}) {
  const registry = new Registry();
  const file = fresh();
  const trail = await AuditTrail.open({ file, log, registry, fsync: false, sinks, sinkCloseTimeoutMs: extra.sinkCloseTimeoutMs ?? 200 });
  return { file, trail, registry };
}

const fastBackoff = { initialMs: 5, maxMs: 20 };
const settings = (sink: MemorySink, o: Partial<AuditSinkSettings> = {}): AuditSinkSettings => ({ sink, mode: 'async', maxLines: 1000, maxBytes: 1 << 20, declareEveryMs: 0, backoff: fastBackoff, ...o });

describe('audit sink fan-out', () => {
  it('gives every sink the same chained lines as the file, open line first, in order', async () => {
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    const { file, trail, registry } = await open([settings(a), settings(b, { mode: 'required' })]);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => trail.record(sampleDecision(i))));
    expect(results.every((r) => r.ok)).toBe(true);
    await trail.close();
    const lines = fileLines(file);
    expect(lines).toHaveLength(6);
    expect(a.lines).toEqual(lines);
    expect(b.lines).toEqual(lines);
    expect(chainBreak(a.lines)).toBeUndefined();
    expect(a.closed && b.closed).toBe(true);
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_lines_written_total', 'a')).toBe(6);
  });

  it('async sink down: decisions continue, the backlog stays bounded, every dropped line is declared in the chain', async () => {
    const sink = new MemorySink('collector');
    sink.failWith = new Error('connection refused');
    const maxLines = 5;
    const { file, trail, registry } = await open([settings(sink, { maxLines })]);
    for (let i = 1; i <= 40; i++) {
      const r = await trail.record(sampleDecision(i));
      expect(r.ok).toBe(true);
      expect(trail.sinks[0]!.backlogLines).toBeLessThanOrEqual(maxLines + 64);
    }
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_backlog_lines', 'collector')).toBe(trail.sinks[0]!.backlogLines);
    const dropped = await metric(registry, 'toolgate_authorizer_audit_sink_dropped_lines_total', 'collector');
    expect(dropped).toBeGreaterThan(0);
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_write_failures_total', 'collector')).toBeGreaterThan(0);
    const ready = trail.sinks[0]!.readiness();
    expect(ready.ok).toBe(true);
    expect(ready.detail).toMatch(/^async, down \(connection refused\), backlog \d+\/5 lines/);

    sink.failWith = undefined;
    for (let i = 41; i <= 45; i++) await trail.record(sampleDecision(i));
    await trail.close();

    const lines = fileLines(file);
    expect(chainBreak(lines)).toBeUndefined();
    const allSeqs = lines.map((l) => (JSON.parse(l) as { seq: number }).seq);
    const declared = declaredDrops(lines, 'collector');
    // Nothing silently lost: what the sink holds and what the trail declares dropped are all the lines, each once.
    expect([...sink.seqs, ...declared].sort((x, y) => x - y)).toEqual(allSeqs);
    expect(declared.length).toBe(await metric(registry, 'toolgate_authorizer_audit_sink_dropped_lines_total', 'collector'));
    // The sink's copy is a chain with declared gaps: each run between gaps verifies.
    expect(sink.seqs).toEqual([...sink.seqs].sort((x, y) => x - y));
  });

  it('required sink down: the decisions are refused with the sink named, and delivered once it is back', async () => {
    const sink = new MemorySink('archive');
    const { file, trail } = await open([settings(sink, { mode: 'required', timeoutMs: 2000 })]);
    expect((await trail.record(sampleDecision(1))).ok).toBe(true);
    sink.failWith = new Error('503 slow down');
    const refused = await trail.record(sampleDecision(2));
    expect(refused).toEqual({ ok: false, reason: expect.stringMatching(/audit sink archive is down: 503 slow down/) as unknown as string });
    expect(trail.sinks[0]!.readiness().ok).toBe(false);
    sink.failWith = undefined;
    // Back up: the queued line goes first, then the new one, and the decision counts as written.
    await expect.poll(() => trail.sinks[0]!.down, { timeout: 2000 }).toBeUndefined();
    expect((await trail.record(sampleDecision(3))).ok).toBe(true);
    await trail.close();
    expect(sink.lines).toEqual(fileLines(file));
  });

  it('required sink slower than its timeout: the decision is refused, not held', async () => {
    const sink = new MemorySink('slow');
    sink.delayMs = 400;
    const { trail } = await open([settings(sink, { mode: 'required', timeoutMs: 50 })]);
    await trail.flush();
    const r = await trail.record(sampleDecision(1));
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/audit sink slow did not take the record within 50 ms/) as unknown as string });
    await trail.close();
  });

  it('a required sink with a full buffer refuses at once and declares the drop', async () => {
    const sink = new MemorySink('tiny');
    sink.failWith = new Error('down');
    const { file, trail } = await open([settings(sink, { mode: 'required', maxLines: 2, timeoutMs: 100 })]);
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await trail.record(sampleDecision(i)));
    expect(results.some((r) => !r.ok && /buffer full/.test(r.reason))).toBe(true);
    await trail.close();
    const lines = fileLines(file);
    expect(declaredDrops(lines, 'tiny').length).toBeGreaterThan(0);
  });

  it('closing with a sink still down declares its unsent lines as the trail\'s last records', async () => {
    const sink = new MemorySink('dead');
    sink.failWith = new SinkWriteError('HTTP 429', { retryAfterMs: 10 });
    const healthy = new MemorySink('ok');
    const { file, trail, registry } = await open([settings(sink), settings(healthy)], { sinkCloseTimeoutMs: 50 });
    for (let i = 1; i <= 3; i++) await trail.record(sampleDecision(i));
    await trail.close();
    const lines = fileLines(file);
    expect(chainBreak(lines)).toBeUndefined();
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ type: 'overflow', sink: 'dead', dropped: 4, seqs: [[0, 3]], reason: 'unsent when the trail closed' });
    expect(sink.lines).toEqual([]);
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_dropped_lines_total', 'dead')).toBe(4);
    // The healthy sink got everything, the dead sink's declaration included.
    expect(healthy.lines).toEqual(lines);
    expect((await trail.record(sampleDecision(9))).ok).toBe(false);

    // A restart continues the chain after the declaration.
    const again = await AuditTrail.open({ file, log, registry: new Registry(), fsync: false });
    expect(again.head).toEqual({ seq: 4, prev: (last as { hash: string }).hash });
    await again.record(sampleDecision(10));
    await again.close();
    expect(chainBreak(fileLines(file))).toBeUndefined();
    // The verifier (kubectl mcp audit verify) reads the declaration as a record of its own.
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true });
  });

  it('does not continue a chain whose last overflow line was edited', async () => {
    const sink = new MemorySink('dead');
    sink.failWith = new Error('down');
    const { file, trail } = await open([settings(sink)], { sinkCloseTimeoutMs: 20 });
    await trail.record(sampleDecision(1));
    await trail.close();
    const lines = fileLines(file);
    lines[lines.length - 1] = lines.at(-1)!.replace('"dropped":2', '"dropped":1');
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    await expect(AuditTrail.open({ file, log, registry: new Registry(), fsync: false })).rejects.toThrow(/last line \(line 3\) does not verify: overflow record: hash mismatch/);
  });

  it('reports the oldest unsent line\'s age per sink', async () => {
    const sink = new MemorySink('aging');
    sink.failWith = new Error('down');
    let now = 1_000_000;
    const registry = new Registry();
    const trail = await AuditTrail.open({ file: fresh(), log, registry, fsync: false, sinks: [settings(sink, { now: () => now })], sinkCloseTimeoutMs: 10 });
    await trail.record(sampleDecision(1));
    now += 42_000;
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_oldest_unsent_seconds', 'aging')).toBe(42);
    await trail.close();
  });
});
