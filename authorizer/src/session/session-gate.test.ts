// The gate with session state over the real policy.wasm and a compiled spec.session: velocity
// limits refuse with a retry time and recover, taint from a read refuses an external send, a new
// session of the same caller stays tainted, another caller is not, and a sink reads the taint
// afresh from the durable store (what another replica wrote).
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { compilePolicy } from '../../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../../pkg/policy/engine/policy-wasm.ts';
import { anyNameCatalog } from '../../../test/support/any-name-catalog.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import { Gate, type AdmitContext } from '../gate/gate.ts';
import { ErrorCodes, parseJsonRpc } from '../gate/jsonrpc.ts';
import type { Admission, Refusal } from '../gate/outcome.ts';
import { PolicyRouter } from '../gate/policy-router.ts';
import type { CallerIdentity } from '../gate/types.ts';
import { conversationMetaKey } from './key.ts';
import { SessionState } from './session-state.ts';
import { MemoryTaintStore, type TaintEntry, type TaintKey, type TaintStore } from './taint-store.ts';

const log = pino({ level: 'silent' });

export function sessionTestPolicy(server = 'mail', url = 'http://mail.test/mcp'): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'ns', name: 'p' },
    spec: {
      servers: [{ name: server, url }],
      toolOverrides: [
        { server, tool: 'read_email', readOnlyHint: true, verb: 'get', labels: ['data:confidential'] },
        { server, tool: 'send_email', readOnlyHint: false, destructiveHint: false, verb: 'create', labels: ['scope:external'] },
        { server, tool: 'list_labels', readOnlyHint: true, verb: 'list' },
      ],
      policies: [{ name: 'allow-all', priority: 100, when: {}, action: 'allow' }],
      session: {
        limits: [{ name: 'burst', when: { tools: ['list_labels'] }, perTool: true, max: 3, window: '10s', action: 'deny' }],
        flows: [{ name: 'no-exfiltration', from: ['data:confidential'], to: { labels: ['scope:external'] }, action: 'deny' }],
        taintTTL: '1h',
      },
    },
  };
}

let now = Date.parse('2026-12-02T03:00:00Z');
const clock = () => now;
const router = new PolicyRouter();

beforeAll(async () => {
  const { data, problems } = compilePolicy(sessionTestPolicy(), new Map());
  expect(problems).toEqual([]);
  await router.entry('ns/p').engine.load(readFileSync(ensurePolicyWasm()), data!, 'rev-1');
  router.update('ns/p', { gateway: data!.toolgate.gateway, data: data! });
});

const caller = (subject = 'alice'): CallerIdentity => ({ subject, issuer: 'https://issuer.test', roles: [], scopes: [] });
const ctx = (o: { subject?: string; sessionId?: string; frontEnd?: 'proxy' | 'ext_authz' } = {}): AdmitContext => ({
  caller: caller(o.subject), frontEnd: o.frontEnd ?? 'proxy', naming: { server: 'mail' }, ...(o.sessionId ? { sessionId: o.sessionId } : {}),
});
let nextId = 1;
const body = (tool: string, meta?: Record<string, unknown>) => JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: tool, arguments: {}, ...(meta ? { _meta: meta } : {}) } });
const gateWith = (taint: TaintStore) => new Gate({ router, log, catalog: anyNameCatalog, session: new SessionState({ taint, now: clock }) });
const admit = (g: Gate, tool: string, c: AdmitContext, meta?: Record<string, unknown>): Promise<Admission> => g.admit(parseJsonRpc(body(tool, meta)), c);
const refused = (a: Admission): Refusal => {
  if (a.kind !== 'refuse') throw new Error(`expected a refusal, got ${a.kind}`);
  return a.refusal;
};

describe('velocity limits', () => {
  it('refuse the call beyond the limit with -31010, data.retryAfterMs and Retry-After, and let calls through again after the window', async () => {
    const g = gateWith(new MemoryTaintStore(clock));
    const c = ctx({ sessionId: 'burst-1' });
    for (let i = 0; i < 3; i++) {
      expect((await admit(g, 'list_labels', c)).kind).toBe('allow');
      now += 1_000;
    }
    const r = refused(await admit(g, 'list_labels', c));
    expect(r.httpStatus).toBe(200);
    expect(r.error.code).toBe(ErrorCodes.rateLimited);
    expect(r.error.message).toContain('velocity limit "burst"');
    const data = r.error.data as { retryAfterMs: number; rule: string };
    // The first of the three was 3 s ago: it leaves the 10 s window in 7 s.
    expect(data.retryAfterMs).toBe(7_000);
    expect(data.rule).toBe('burst');
    expect(r.headers?.['retry-after']).toBe('7');
    // Another tool and another session are counted apart (perTool, per session).
    expect((await admit(g, 'read_email', c)).kind).toBe('allow');
    expect((await admit(g, 'list_labels', ctx({ sessionId: 'burst-2' }))).kind).toBe('allow');
    now += 7_000;
    expect((await admit(g, 'list_labels', c)).kind).toBe('allow');
  });

  it('behind Envoy the same refusal is a 429 with Retry-After', async () => {
    const g = gateWith(new MemoryTaintStore(clock));
    const c = ctx({ sessionId: 'burst-envoy', frontEnd: 'ext_authz' });
    for (let i = 0; i < 3; i++) await admit(g, 'list_labels', c);
    const r = refused(await admit(g, 'list_labels', c));
    expect(r).toMatchObject({ httpStatus: 429, error: { code: ErrorCodes.rateLimited }, headers: { 'retry-after': '10' } });
  });
});

describe('taint', () => {
  it('denies an external send after a confidential read, naming the read; the same caller stays tainted in a new session; another caller is not', async () => {
    const g = gateWith(new MemoryTaintStore(clock));
    const at = new Date(now).toISOString();
    expect((await admit(g, 'send_email', ctx({ sessionId: 's1' }))).kind).toBe('allow');
    const read = await admit(g, 'read_email', ctx({ sessionId: 's1' }));
    expect(read.kind).toBe('allow');
    const r = refused(await admit(g, 'send_email', ctx({ sessionId: 's1' })));
    expect(r.error.code).toBe(ErrorCodes.policyDenied);
    expect(r.error.message).toBe(`denied by rule "no-exfiltration": session read data:confidential via mail.read_email at ${at}; flow rule "no-exfiltration" denies this call`);
    expect((r.error.data as { session: { label: string; target: string } }).session).toMatchObject({ kind: 'flow', label: 'data:confidential', target: 'read_email' });
    // A new session does not launder the caller's taint.
    expect(refused(await admit(g, 'send_email', ctx({ sessionId: 's2' }))).error.code).toBe(ErrorCodes.policyDenied);
    expect(refused(await admit(g, 'send_email', ctx({}), { [conversationMetaKey]: 'fresh' })).error.code).toBe(ErrorCodes.policyDenied);
    expect((await admit(g, 'send_email', ctx({ subject: 'bob', sessionId: 's1' }))).kind).toBe('allow');
  });

  it('hands the audit trail the decision with the flow rule as its rule and the read as its first reason', async () => {
    const records: DecisionRecord[] = [];
    const g = new Gate({ router, log, catalog: anyNameCatalog, session: new SessionState({ taint: new MemoryTaintStore(clock), now: clock }), onDecision: (r) => { records.push(r); } });
    await admit(g, 'read_email', ctx({ subject: 'grace' }));
    refused(await admit(g, 'send_email', ctx({ subject: 'grace' })));
    const last = records.at(-1)!;
    expect(last.verdict.decision).toMatchObject({ action: 'deny', rule: 'no-exfiltration', session: { sink: true, constraint: { kind: 'flow', label: 'data:confidential' } } });
    expect(last.verdict.decision.reasons[0]).toMatch(/^session read data:confidential via mail\.read_email at /);
    expect(records[0]!.verdict.decision.session).toMatchObject({ taints: ['data:confidential'], sink: false });
  });

  it('a held call decided again (after a new revision) keeps the session state it was held with', async () => {
    const { data } = compilePolicy({ ...sessionTestPolicy(), spec: { ...sessionTestPolicy().spec, session: { flows: [{ name: 'review-exfiltration', from: ['data:confidential'], to: { labels: ['scope:external'] }, action: 'require_approval', approvers: ['sec'] }] } } }, new Map());
    const held = new PolicyRouter();
    await held.entry('ns/p').engine.load(readFileSync(ensurePolicyWasm()), data!, 'rev-h');
    held.update('ns/p', { gateway: data!.toolgate.gateway, data: data! });
    const approvals = { check: async () => ({ kind: 'failed', message: 'not in this test' }) } as unknown as NonNullable<ConstructorParameters<typeof Gate>[0]['approvals']>;
    const g = new Gate({ router: held, log, catalog: anyNameCatalog, approvals, session: new SessionState({ taint: new MemoryTaintStore(clock), now: clock }) });
    await admit(g, 'read_email', ctx({ subject: 'heidi' }));
    const a = await admit(g, 'send_email', ctx({ subject: 'heidi' }));
    if (a.kind !== 'hold') throw new Error(`expected a hold, got ${a.kind}`);
    expect(g.redecide(a.held.call).decision).toMatchObject({ action: 'require_approval', rule: 'review-exfiltration' });
    // Without its session state the same call would be allowed: the state is what holds it.
    expect(g.decisionPath.decide(a.held.call).decision.action).toBe('allow');
  });

  it('firstUse: the first destructive call of a session is held for approval; once released it counts and the next one passes; another session starts over', async () => {
    const spec = sessionTestPolicy().spec;
    const { data, problems } = compilePolicy({ ...sessionTestPolicy(), spec: { ...spec, session: { limits: [{ name: 'first-send', when: { tools: ['send_email'] }, perTool: true, max: 0, firstUse: true, window: '24h', action: 'require_approval', approvers: ['ops'] }] } } }, new Map());
    expect(problems).toEqual([]);
    const first = new PolicyRouter();
    await first.entry('ns/p').engine.load(readFileSync(ensurePolicyWasm()), data!, 'rev-f');
    first.update('ns/p', { gateway: data!.toolgate.gateway, data: data! });
    const approvals = { check: async () => ({ kind: 'released' }) } as unknown as NonNullable<ConstructorParameters<typeof Gate>[0]['approvals']>;
    const g = new Gate({ router: first, log, catalog: anyNameCatalog, approvals, session: new SessionState({ taint: new MemoryTaintStore(clock), now: clock }) });
    const c = ctx({ subject: 'ivan', sessionId: 'first-1' });
    const held = await admit(g, 'send_email', c);
    if (held.kind !== 'hold') throw new Error(`expected a hold, got ${held.kind}`);
    expect(held.held.verdict.decision).toMatchObject({ action: 'require_approval', rule: 'first-send', approvers: ['ops'] });
    expect(held.held.verdict.decision.reasons[0]).toContain('velocity limit "first-send": first matching call in the last 24h per session and tool');
    expect((await g.release(held.held, { mode: 'retry' }, { frontEnd: 'proxy' })).kind).toBe('allow');
    expect((await admit(g, 'send_email', c)).kind).toBe('allow');
    expect((await admit(g, 'send_email', ctx({ subject: 'ivan', sessionId: 'first-2' }))).kind).toBe('hold');
  });

  it('refuses firstUse without max: 0 and require_approval (a denied first use would deny forever)', () => {
    const spec = sessionTestPolicy().spec;
    const { problems } = compilePolicy({ ...sessionTestPolicy(), spec: { ...spec, session: { limits: [{ name: 'bad', when: {}, max: 0, firstUse: true, window: '1h', action: 'deny' }] } } }, new Map());
    expect(problems).toContainEqual(expect.objectContaining({ field: 'spec.session.limits[0].firstUse', message: expect.stringContaining('firstUse needs max: 0 and action require_approval') }));
  });

  it('lapses after taintTTL', async () => {
    const g = gateWith(new MemoryTaintStore(clock));
    await admit(g, 'read_email', ctx({ subject: 'carol' }));
    expect(refused(await admit(g, 'send_email', ctx({ subject: 'carol' }))).error.code).toBe(ErrorCodes.policyDenied);
    now += 3_600_001;
    expect((await admit(g, 'send_email', ctx({ subject: 'carol' }))).kind).toBe('allow');
  });

  it('a sink reads the taint afresh: what another replica recorded applies here', async () => {
    const entry: TaintEntry = { label: 'data:confidential', server: 'mail', target: 'read_email', at: '2026-12-02T03:00:00.000Z', decisionId: 'other-replica' };
    const reads: string[] = [];
    const elsewhere: TaintStore = {
      cached: () => [],
      fresh: async (key) => { reads.push(key); return [entry]; },
      add: async (_k: TaintKey) => undefined,
    };
    const g = gateWith(elsewhere);
    expect((await admit(g, 'list_labels', ctx({ subject: 'dave', sessionId: 'x' }))).kind).toBe('allow');
    expect(reads).toEqual([]);
    const r = refused(await admit(g, 'send_email', ctx({ subject: 'dave', sessionId: 'x' })));
    expect(r.error.message).toContain('via mail.read_email at 2026-12-02T03:00:00.000Z');
    expect(reads).toHaveLength(2);
  });

  it('fails closed: a taint that cannot be read refuses the sink, one that cannot be written refuses the read (503)', async () => {
    const broken: TaintStore = {
      cached: () => [],
      fresh: async () => { throw new Error('API server down'); },
      add: async () => { throw new Error('API server down'); },
    };
    const g = gateWith(broken);
    const sink = refused(await admit(g, 'send_email', ctx({ subject: 'erin' })));
    expect(sink).toMatchObject({ httpStatus: 503, error: { code: ErrorCodes.policyUnavailable } });
    const source = refused(await admit(g, 'read_email', ctx({ subject: 'erin' })));
    expect(source).toMatchObject({ httpStatus: 503, error: { code: ErrorCodes.policyUnavailable } });
    expect(source.error.message).toContain('could not be recorded');
    // A call that neither reads a source label nor is a sink needs no store.
    expect((await admit(g, 'list_labels', ctx({ subject: 'erin' }))).kind).toBe('allow');
  });

  it('refuses a malformed conversation id, naming the key', async () => {
    const g = gateWith(new MemoryTaintStore(clock));
    const r = refused(await admit(g, 'list_labels', ctx({ subject: 'frank' }), { [conversationMetaKey]: 'has space' }));
    expect(r.error.code).toBe(ErrorCodes.invalidParams);
    expect(r.error.message).toContain(conversationMetaKey);
  });
});
