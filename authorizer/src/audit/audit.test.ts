// The audit trail's chain and its verifier: every kind of tampering is found at the line where
// it happened, a restart continues the chain, and a tail that does not verify stops a restart.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import { argumentsHmac } from '../../../pkg/redact/digest.ts';
import { revealed, type Openings } from './pseudonym.ts';
import { AuditTrail, verifyAuditFile } from './index.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-audit-'));
let n = 0;
const fresh = () => join(dir, `trail-${++n}`, 'audit.jsonl');

function decision(i: number, args: Record<string, unknown> = { id: String(i) }): DecisionRecord {
  return {
    durationMs: 0.1,
    call: {
      server: 'gmail', tool: 'read_email', arguments: args, frontEnd: 'proxy', sessionId: 's-1', requestId: i,
      caller: { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: ['reader'], scopes: ['mail:read'], tokenId: 'jti-secret-ish' },
    },
    verdict: {
      decisionId: `d-${i}`, revision: 'rev-1', effect: 'proceed',
      decision: { action: 'allow', rule: 'Allow read-only', reasons: ['read-only'], labels: ['pii'], annotations: {}, verb: 'get', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } },
    },
  };
}

async function trailWith(count: number, file = fresh(), registry = new Registry()): Promise<{ file: string; trail: AuditTrail; registry: Registry }> {
  const trail = await AuditTrail.open({ file, log, registry, fsync: false });
  for (let i = 1; i <= count; i++) trail.record(decision(i));
  await trail.flush();
  return { file, trail, registry };
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const rewrite = (file: string, ls: string[]) => writeFileSync(file, ls.map((l) => `${l}\n`).join(''));
const metric = async (registry: Registry, name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;

describe('AuditTrail', () => {
  it('writes an open line then one chained record per decision, all in one verifiable chain', async () => {
    const { file, trail, registry } = await trailWith(5);
    await trail.close();
    const ls = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ls).toHaveLength(6);
    expect(ls[0]).toMatchObject({ type: 'open', seq: 0 });
    expect(ls[0]?.genesis).toMatch(/^genesis:[0-9a-f]{32}$/);
    expect(ls[1]).toMatchObject({
      type: 'decision', version: 2, seq: 1, prev: ls[0]?.genesis, decisionId: 'd-1', frontEnd: 'proxy', enforcement: 'enforce', policy: 'ns/p', revision: 'rev-1', server: 'gmail', tool: 'read_email',
      method: 'tools/call', classification: { verb: 'get', labels: ['pii'], annotations: {}, sources: [] }, action: 'allow', rule: 'Allow read-only', reasons: ['read-only'], sessionId: 's-1',
      approval: 'bypassed', agent: { instance: expect.stringMatching(/^commit:/), roles: ['reader'] }, operator: expect.stringMatching(/^commit:/),
      caller: { subject: expect.stringMatching(/^commit:/), issuer: 'https://issuer.test' },
    });
    // Identities are commitments in the chained part, opened beside it; one value, one commitment.
    const personal = ls[1]?.personal as Openings;
    const rec = ls[1] as { agent: { instance: string }; operator: string; caller: { subject: string } };
    expect(revealed(personal, rec.agent.instance)).toBe('agent-1');
    expect(revealed(personal, rec.operator)).toBe('alice');
    expect(rec.caller.subject).toBe(rec.operator);
    expect(ls[2]?.prev).toBe(ls[1]?.hash);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 5, head: { seq: 5, hash: ls[5]?.hash }, version: 2, unsealed: 5, summary: expect.stringContaining('intact, no checkpoint') });
    expect(await metric(registry, 'toolgate_authorizer_audit_records_total')).toBe(5);
  });

  it('stamps every record with an ISO-8601 UTC time, and the checker refuses a time in another zone', async () => {
    const { file, trail } = await trailWith(3);
    await trail.close();
    for (const l of lines(file)) {
      const time = (JSON.parse(l) as { time: string }).time;
      expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(new Date(time).toISOString()).toBe(time);
    }
    const { checkLine, hashOf } = await import('./record.ts');
    const { canonicalJson } = await import('../../../pkg/json/canonical.ts');
    const o = { ...(JSON.parse(lines(file)[1]!) as Record<string, unknown>), time: '2026-11-22T10:00:00+01:00' };
    expect(checkLine(canonicalJson({ ...o, hash: hashOf(o) }))).toMatchObject({ ok: false, reason: expect.stringContaining('time') });
  });

  it('chains what became of a held call: who approved, which replica released it', async () => {
    const file = fresh();
    const digestKey = Buffer.alloc(32, 3);
    const trail = await AuditTrail.open({ file, log, fsync: false, digestKey });
    const held = decision(1, { to: 'eve@evil.com' });
    trail.record(held);
    const request = {
      apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { namespace: 'ns', name: 'ar-1' },
      spec: {} as ApprovalRequest['spec'],
      status: {
        phase: 'Consumed', consumedBy: 'authorizer-0',
        decisions: [{ user: 'ann', groups: ['sre'], decision: 'approve', time: '2026-11-22T00:00:00Z' }, { user: 'bob', groups: ['sre'], decision: 'approve', time: '2026-11-22T00:00:01Z' }],
      },
    } satisfies ApprovalRequest;
    trail.recordApproval({ mode: 'hold', outcome: { kind: 'released', request }, call: held.call, verdict: held.verdict });
    await trail.close();
    const [, first, second] = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(second).toMatchObject({
      type: 'approval', version: 2, seq: 2, prev: first?.hash, decisionId: 'd-1', mode: 'hold', outcome: 'released', approval: 'approved', request: 'ns/ar-1',
      deniedBy: [], consumedBy: 'authorizer-0', argumentsDigest: argumentsHmac(digestKey, { to: 'eve@evil.com' }),
    });
    expect((second?.approvedBy as string[]).map((c) => revealed(second?.personal as Openings, c))).toEqual(['ann', 'bob']);
    expect(first?.argumentsDigest).toBe(second?.argumentsDigest);
    expect(readFileSync(file, 'utf8')).not.toContain('eve@evil.com');
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 2 });
  });

  it('redacts arguments with pkg/redact, digests the unredacted ones with the keyed HMAC, and writes no token data', async () => {
    const file = fresh();
    const digestKey = Buffer.alloc(32, 9);
    const trail = await AuditTrail.open({ file, log, fsync: false, digestKey });
    const args = { user: 'bob', password: 'hunter2-very-secret', note: 'Bearer abcdefghijklmnop' };
    trail.record(decision(1, args));
    await trail.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('abcdefghijklmnop');
    expect(text).not.toContain('jti-secret-ish');
    expect(text).not.toContain('mail:read');
    const rec = JSON.parse(lines(file)[1]!) as Record<string, unknown>;
    expect(rec.arguments).toEqual({ user: 'bob', password: '[REDACTED:secret-key]', note: '[REDACTED:bearer]' });
    expect(rec.redactions).toEqual({ 'secret-key': 1, bearer: 1 });
    expect(rec.argumentsDigest).toBe(argumentsHmac(digestKey, args));
  });

  it('records the scopes the tool required and those the token carried, when the wiring says which', async () => {
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, requiredScopes: (call) => (call.tool === 'read_email' ? ['mail:read', 'mail:metadata'] : undefined) });
    trail.record(decision(1));
    await trail.close();
    expect(JSON.parse(lines(file)[1]!)).toMatchObject({ scopes: { required: ['mail:read', 'mail:metadata'], used: ['mail:read'] } });
  });

  it('keeps one unforked chain when many decisions are queued at once', async () => {
    const { file, trail } = await trailWith(300);
    await trail.close();
    const r = await verifyAuditFile(file);
    expect(r).toMatchObject({ ok: true, records: 300, head: { seq: 300 } });
  });

  it('counts a record it cannot write, answers nothing differently, and chains the next one onto the last good line', async () => {
    const registry = new Registry();
    const { file, trail } = await trailWith(1, fresh(), registry);
    trail.record(decision(2, { n: 10n } as unknown as Record<string, unknown>)); // BigInt has no JSON form
    trail.record(decision(3));
    await trail.close();
    expect(await metric(registry, 'toolgate_authorizer_audit_write_errors_total')).toBe(1);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 2, head: { seq: 2 } });
    expect(JSON.parse(lines(file)[2]!)).toMatchObject({ decisionId: 'd-3', seq: 2 });
  });

  it('continues the chain (seq and prev) after a restart', async () => {
    const { file, trail } = await trailWith(2);
    await trail.close();
    const again = await AuditTrail.open({ file, log, fsync: false });
    expect(again.head.seq).toBe(2);
    again.record(decision(3));
    again.record(decision(4));
    await again.close();
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 4, head: { seq: 4 } });
    expect(lines(file).filter((l) => l.includes('"type":"open"'))).toHaveLength(1);
  });

  it('refuses to continue a chain whose last line was edited, naming the line', async () => {
    const { file, trail } = await trailWith(2);
    await trail.close();
    const ls = lines(file);
    ls[2] = ls[2]!.replace('"action":"allow"', '"action":"deny"');
    rewrite(file, ls);
    await expect(AuditTrail.open({ file, log })).rejects.toThrow(/line 3\) does not verify: hash mismatch/);
  });

  it('refuses to continue a chain cut mid-line, naming the line', async () => {
    const { file, trail } = await trailWith(2);
    await trail.close();
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, -20));
    await expect(AuditTrail.open({ file, log })).rejects.toThrow(/line 3 has no newline/);
  });
});

describe('verifyAuditFile', () => {
  const tampered = async (edit: (ls: string[]) => string[]) => {
    const { file, trail } = await trailWith(4);
    await trail.close();
    rewrite(file, edit(lines(file)));
    return verifyAuditFile(file);
  };

  it('finds an edited field at its line', async () => {
    const r = await tampered((ls) => ls.map((l, i) => (i === 2 ? l.replace('"tool":"read_email"', '"tool":"delete_email"') : l)));
    expect(r).toMatchObject({ ok: false, line: 3 });
    if (!r.ok) expect(r.reason).toContain('hash mismatch');
  });

  it('finds an edited field whose hash was recomputed, at the next line', async () => {
    const { hashOf } = await import('./record.ts');
    const { canonicalJson } = await import('../../../pkg/json/canonical.ts');
    const r = await tampered((ls) => ls.map((l, i) => {
      if (i !== 2) return l;
      const o = { ...(JSON.parse(l) as Record<string, unknown>), action: 'deny' };
      return canonicalJson({ ...o, hash: hashOf(o) });
    }));
    expect(r).toMatchObject({ ok: false, line: 4 });
    if (!r.ok) expect(r.reason).toContain('"prev" does not match the hash of line 3');
  });

  it('finds a deleted line', async () => {
    const r = await tampered((ls) => ls.filter((_, i) => i !== 2));
    expect(r).toMatchObject({ ok: false, line: 3, seq: 3, kind: 'deleted', summary: 'line 3 (seq 3): deleted — record 2 is missing before this line (seq 3 follows seq 1)' });
  });

  it('finds reordered lines', async () => {
    const r = await tampered((ls) => [ls[0]!, ls[1]!, ls[3]!, ls[2]!, ls[4]!]);
    expect(r).toMatchObject({ ok: false, line: 3, seq: 3, kind: 'reordered', summary: 'line 3 (seq 3): reordered — seq 3 comes before seq 2 (line 4): lines were reordered' });
    const r2 = await tampered((ls) => [ls[0]!, ls[2]!, ls[1]!, ls[3]!, ls[4]!]);
    expect(r2).toMatchObject({ ok: false, line: 2, kind: 'reordered' });
  });

  it('finds a head cut off (open line gone)', async () => {
    const r = await tampered((ls) => ls.slice(1));
    expect(r).toMatchObject({ ok: false, line: 1 });
    if (!r.ok) expect(r.reason).toContain('open line');
  });

  it('finds a tail cut mid-line and an edited last line', async () => {
    const { file, trail } = await trailWith(3);
    await trail.close();
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, -10));
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, line: 4 });
    writeFileSync(file, text.replace(/"rule":"Allow read-only"(?=[^\n]*\n$)/, '"rule":"x"'));
    const r = await verifyAuditFile(file);
    expect(r).toMatchObject({ ok: false, line: 4 });
    if (!r.ok) expect(r.reason).toContain('hash mismatch');
  });

  it('has a CLI that exits 0 on a good trail and 1 naming the line on a broken one', async () => {
    const { file, trail } = await trailWith(2);
    await trail.close();
    const cli = join(import.meta.dirname, 'verify.ts');
    const run = promisify(execFile);
    const ok = await run(process.execPath, [cli, file]);
    expect(ok.stdout).toContain('ok, 2 records');
    rewrite(file, lines(file).filter((_, i) => i !== 1));
    const bad = await run(process.execPath, [cli, file]).then(() => undefined, (err: { code: number; stderr: string }) => err);
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toContain('line 2 (seq 2): deleted — record 1 is missing');
  }, 30_000);
});
