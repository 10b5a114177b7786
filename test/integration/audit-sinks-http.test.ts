// The audit trail's HTTP sink against a real HTTP server that speaks OPA's decision-log API:
// gzip'd JSON-array batches that decompress to exactly the trail's lines; a server that fails N
// times gets every line once after its retries; a 429 Retry-After is waited for; and through the
// real gate, a sink that is down refuses the calls (required) or lets them continue (async),
// with the backlog bounded and the drops declared in the chain.
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../pkg/json/canonical.ts';
import { AuditTrail, type AuditSinkSettings } from '../../authorizer/src/audit/trail.ts';
import { HttpSink } from '../../authorizer/src/audit/sinks/http.ts';
import { Gate, PolicyRouter, type AdmitContext, type AuditOnFailure } from '../../authorizer/src/gate/index.ts';
import { parseJsonRpc } from '../../authorizer/src/gate/jsonrpc.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';
import { chainBreak, declaredDrops, sampleDecision } from '../support/audit-sink.ts';
import { compileFixture, loadFixtureRouter } from '../support/extauthz.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-audit-http-'));
let n = 0;
const fresh = () => join(dir, `t${++n}`, 'audit.jsonl');
const fileLines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);

interface Received {
  at: number;
  status: number;
  headers: IncomingMessage['headers'];
  records?: unknown[];
}

/** A decision-log service: answers each POST with the next planned status (then 200), keeps what it took. */
class DecisionLogServer {
  readonly received: Received[] = [];
  plan: Array<{ status: number; headers?: Record<string, string> }> = [];
  server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.#handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/logs`;
    return this;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const step = this.plan.shift() ?? { status: 200 };
    const r: Received = { at: Date.now(), status: step.status, headers: req.headers };
    if (step.status === 200) {
      // What OPA's decision-log receivers expect: gzip'd JSON array.
      r.records = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as unknown[];
    }
    this.received.push(r);
    res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers }).end('{}');
  }

  /** Every record the service accepted, as canonical lines, in arrival order. */
  get lines(): string[] {
    return this.received.flatMap((r) => (r.records ?? []).map((rec) => canonicalJson(rec as never)));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const servers: DecisionLogServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const server = async () => {
  const s = await new DecisionLogServer().start();
  servers.push(s);
  return s;
};

const channel = (url: string, o: Partial<AuditSinkSettings> = {}): AuditSinkSettings => ({
  sink: new HttpSink({ url, timeoutMs: 2000 }), mode: 'async', maxLines: 1000, maxBytes: 1 << 20, declareEveryMs: 0, backoff: { initialMs: 5, maxMs: 2000 }, ...o,
});

async function metric(registry: Registry, name: string, sink: string): Promise<number | undefined> {
  return (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.sink === sink)?.value;
}

describe('HTTP audit sink (OPA decision-log API)', () => {
  it('POSTs gzip\'d JSON-array batches that decompress to the trail\'s lines, in order', async () => {
    const s = await server();
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, sinks: [channel(s.url, { batchLines: 3 })] });
    await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => trail.record(sampleDecision(i))));
    await trail.close();
    expect(s.received.length).toBeGreaterThanOrEqual(3);
    for (const r of s.received) {
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.headers['content-type']).toBe('application/json');
      expect(Array.isArray(r.records)).toBe(true);
      expect(r.records!.length).toBeLessThanOrEqual(3);
    }
    expect(s.lines).toEqual(fileLines(file));
    expect(chainBreak(s.lines)).toBeUndefined();
  });

  it('retries through N failures with backoff and delivers every line exactly once', async () => {
    const s = await server();
    s.plan = [{ status: 500 }, { status: 502 }, { status: 500 }];
    const registry = new Registry();
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, registry, fsync: false, sinks: [channel(s.url)] });
    for (let i = 1; i <= 4; i++) await trail.record(sampleDecision(i));
    await expect.poll(() => trail.sinks[0]!.backlogLines, { timeout: 10_000 }).toBe(0);
    await trail.close();
    expect(s.received.filter((r) => r.status !== 200)).toHaveLength(3);
    expect(s.lines).toEqual(fileLines(file));
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_write_failures_total', 'http')).toBe(3);
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_lines_written_total', 'http')).toBe(fileLines(file).length);
  });

  it('does not follow a redirect: the records and the token go only where configured', async () => {
    const s = await server();
    const elsewhere = await server();
    s.plan = [{ status: 307, headers: { location: elsewhere.url } }];
    const sink = new HttpSink({ url: s.url, token: () => 'sink-token' });
    await expect(sink.write(['{"seq":1}'])).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:\d+\/logs/);
    expect(elsewhere.received).toHaveLength(0);
    expect(s.received[0]!.headers.authorization).toBe('Bearer sink-token');
  });

  it('waits as long as a 429 Retry-After asks before trying again', async () => {
    const s = await server();
    s.plan = [{ status: 429, headers: { 'retry-after': '1' } }];
    const trail = await AuditTrail.open({ file: fresh(), log, fsync: false, sinks: [channel(s.url)] });
    await trail.record(sampleDecision(1));
    await expect.poll(() => s.received.filter((r) => r.status === 200).length, { timeout: 10_000 }).toBeGreaterThan(0);
    await trail.close();
    const [limited, next] = s.received;
    expect(limited!.status).toBe(429);
    // The backoff alone would have come back after about 5 ms.
    expect(next!.at - limited!.at).toBeGreaterThanOrEqual(950);
  });
});

describe('through the gate, with the decision-log service down', () => {
  let router: PolicyRouter;
  const ctx: AdmitContext = { frontEnd: 'ext_authz', naming: { server: 'gmail' }, caller: { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes: [] } };
  const readEmail = (id: number) => parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'read_email', arguments: { id: String(id) } } }));

  beforeAll(async () => {
    router = await loadFixtureRouter(compileFixture());
  }, 60_000);

  async function deadUrl(): Promise<string> {
    const s = await server();
    const url = s.url;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    return url;
  }

  function gateWith(trail: AuditTrail, onFailure: () => AuditOnFailure): Gate {
    return new Gate({ router, log, catalog: anyNameCatalog, onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r), auditOnFailure: onFailure });
  }

  it('required: calls are refused (503, the sink named) while the service is unreachable, and allowed where onFailure is Allow', async () => {
    const url = await deadUrl();
    let onFailure: AuditOnFailure = 'Refuse';
    const trail = await AuditTrail.open({ file: fresh(), log, fsync: false, sinkCloseTimeoutMs: 100, sinks: [channel(url, { mode: 'required', timeoutMs: 3000, backoff: { initialMs: 5, maxMs: 50 } })] });
    const gate = gateWith(trail, () => onFailure);
    const refused = await gate.admit(readEmail(1), ctx);
    if (refused.kind !== 'refuse') throw new Error(`expected a refusal, got ${refused.kind}`);
    expect(refused.refusal).toMatchObject({ httpStatus: 503, error: { message: expect.stringMatching(/audit trail unavailable, call refused: .*audit sink http/) } });
    expect(trail.sinks[0]!.readiness()).toMatchObject({ ok: false, detail: expect.stringMatching(/^required, down \(POST http:\/\/127\.0\.0\.1:\d+\/logs: fetch failed/) });
    onFailure = 'Allow';
    expect((await gate.admit(readEmail(2), ctx)).kind).toBe('allow');
    await trail.close();
  });

  it('required: a service answering 503 refuses the calls; once it answers 200 the queued lines go first and calls pass', async () => {
    const s = await server();
    s.plan = Array.from({ length: 1000 }, () => ({ status: 503 }));
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, sinkCloseTimeoutMs: 100, sinks: [channel(s.url, { mode: 'required', timeoutMs: 3000, backoff: { initialMs: 5, maxMs: 50 } })] });
    const gate = gateWith(trail, () => 'Refuse');
    expect((await gate.admit(readEmail(1), ctx)).kind).toBe('refuse');
    s.plan = [];
    await expect.poll(() => trail.sinks[0]!.down, { timeout: 5000 }).toBeUndefined();
    expect((await gate.admit(readEmail(2), ctx)).kind).toBe('allow');
    await trail.close();
    // Nothing lost on the way: the service holds the whole trail, the refused call's records included.
    expect(s.lines).toEqual(fileLines(file));
  });

  it('async: calls continue, the backlog stays within its bound, and what the sink missed is declared', async () => {
    const url = await deadUrl();
    const registry = new Registry();
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, registry, fsync: false, sinkCloseTimeoutMs: 100, sinks: [channel(url, { maxLines: 4, backoff: { initialMs: 5, maxMs: 50 } })] });
    const gate = gateWith(trail, () => 'Refuse');
    for (let i = 1; i <= 20; i++) {
      expect((await gate.admit(readEmail(i), ctx)).kind).toBe('allow');
      expect(trail.sinks[0]!.backlogLines).toBeLessThanOrEqual(4 + 64);
    }
    const detail = trail.sinks[0]!.readiness();
    expect(detail).toMatchObject({ ok: true, detail: expect.stringMatching(/^async, down .* backlog \d+\/4 lines/) });
    await trail.close();
    const lines = fileLines(file);
    expect(chainBreak(lines)).toBeUndefined();
    // The service got nothing: every line but the closing declarations is declared dropped.
    const declared = declaredDrops(lines, 'http');
    const offered = lines.filter((l) => !(JSON.parse(l) as { type: string; reason?: string }).reason?.startsWith('unsent when'));
    expect(declared.length).toBe(offered.length);
    expect(await metric(registry, 'toolgate_authorizer_audit_sink_dropped_lines_total', 'http')).toBe(declared.length);
  });
});
