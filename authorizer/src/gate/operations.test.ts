// Operations other than tools/call through the gate, over the real policy.wasm: resources/*,
// prompts/get, completion/complete and logging/setLevel decided by rules that name their kind;
// rules written for tools never decide them; listings show exactly what a read would allow.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicySpec } from '../../../api/v1alpha1/index.ts';
import { compilePolicy } from '../../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../../pkg/policy/engine/policy-wasm.ts';
import { policy } from '../../../test/support/compiler.ts';
import type { DecisionRecord } from './decision-path.ts';
import { Gate, type AdmitContext } from './gate.ts';
import { ErrorCodes, parseJsonRpc } from './jsonrpc.ts';
import type { Admission, Refusal, RefusalRecord } from './outcome.ts';
import { PolicyRouter } from './policy-router.ts';
import type { CallerIdentity } from './types.ts';

const log = pino({ level: 'silent' });
const caller: CallerIdentity = { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', roles: [], scopes: [] };
const route: AdmitContext = { caller, frontEnd: 'ext_authz', naming: { server: 'gmail' }, listings: 'unfiltered' };
const aggregated: AdmitContext = { caller, frontEnd: 'proxy', naming: { separator: '__' } };
let wasm: Buffer;

const governed: Partial<McpSecurityPolicySpec> = {
  policies: [
    { name: 'deny-secret-docs', priority: 1, when: { resources: ['*secret*'] }, action: 'deny' },
    { name: 'allow-public-docs', priority: 2, when: { resources: ['file:///public/*'] }, action: 'allow' },
    { name: 'allow-greet', priority: 3, when: { prompts: ['greet'], servers: ['gmail'] }, action: 'allow' },
    { name: 'allow-logging', priority: 4, when: { kinds: ['logging'] }, action: 'allow' },
    // Written before kinds existed: governs tools only, so it never allows a resource read.
    { name: 'allow-everything-old', priority: 10, when: {}, action: 'allow' },
  ],
};

async function gateFor(spec: Partial<McpSecurityPolicySpec>, records?: { decisions: DecisionRecord[]; refusals: RefusalRecord[] }): Promise<Gate> {
  const router = new PolicyRouter();
  const { data, problems } = compilePolicy(policy(spec), new Map());
  expect(problems).toEqual([]);
  await router.entry('ns/p').engine.load(wasm, data!, 'rev-1');
  router.update('ns/p', { gateway: data!.toolgate.gateway, data: data! });
  return new Gate({ router, log, ...(records ? { onDecision: (r) => records.decisions.push(r), onRefusal: (r) => records.refusals.push(r) } : {}) });
}

const request = (method: string, params: unknown, id = 1) => parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
const refused = (a: Admission): Refusal => {
  if (a.kind !== 'refuse') throw new Error(`expected a refusal, got ${a.kind}`);
  return a.refusal;
};
const ruleOf = (a: Admission) => (a.kind === 'allow' ? a.verdict?.decision.rule : a.kind === 'refuse' ? (a.refusal.error.data as { rule?: string } | undefined)?.rule : 'held');

let gate: Gate;
const records = { decisions: [] as DecisionRecord[], refusals: [] as RefusalRecord[] };

beforeAll(async () => {
  wasm = readFileSync(ensurePolicyWasm());
  gate = await gateFor(governed, records);
});

describe('governed operations', () => {
  it('decides resources/read, subscribe and unsubscribe by URI pattern', async () => {
    for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
      const ok = await gate.admit(request(method, { uri: 'file:///public/readme.md' }), route);
      expect(ok, method).toMatchObject({ kind: 'allow', method, verdict: { effect: 'proceed', decision: { rule: 'allow-public-docs' } }, call: { server: 'gmail', tool: '', operation: { kind: 'resource', method, target: 'file:///public/readme.md' } } });
      expect(refused(await gate.admit(request(method, { uri: 'file:///public/secret.txt' }), route)), method).toMatchObject({ httpStatus: 200, error: { code: ErrorCodes.policyDenied, data: { rule: 'deny-secret-docs' } } });
    }
  });

  it('leaves an old-style rule (no kinds) to tools: a resource it would have matched falls to the deny default', async () => {
    const r = refused(await gate.admit(request('resources/read', { uri: 'file:///private/notes' }), route));
    expect(r.error.data).toMatchObject({ rule: 'toolgate:default' });
    expect(ruleOf(await gate.admit(request('prompts/get', { name: 'other' }), route))).toBe('toolgate:default');
  });

  it('decides prompts/get by exact name, with the server from the route or the name prefix', async () => {
    expect(ruleOf(await gate.admit(request('prompts/get', { name: 'greet' }), route))).toBe('allow-greet');
    const prefixed = await gate.admit(request('prompts/get', { name: 'gmail__greet', arguments: { who: 'x' } }), aggregated);
    // Forwarded as decided: the prefix is gone, nothing else changed.
    expect(prefixed).toMatchObject({ kind: 'allow', message: { message: { params: { name: 'greet', arguments: { who: 'x' } } } }, call: { server: 'gmail', operation: { target: 'greet' } } });
    expect(ruleOf(await gate.admit(request('prompts/get', { name: 'github__greet' }), aggregated))).toBe('toolgate:default');
    for (const name of ['greet ', 'Greet', 'gr\u200beet', 'ｇreet']) {
      const r = refused(await gate.admit(request('prompts/get', { name }), route));
      expect(r.error.code, JSON.stringify(name)).toBe(name === 'Greet' ? ErrorCodes.policyDenied : ErrorCodes.invalidParams);
    }
  });

  it('decides completion/complete as its ref: a prompt by name, a resource by URI', async () => {
    expect(ruleOf(await gate.admit(request('completion/complete', { ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'a', value: '' } }), route))).toBe('allow-greet');
    expect(ruleOf(await gate.admit(request('completion/complete', { ref: { type: 'ref/resource', uri: 'file:///public/{path}' }, argument: { name: 'path', value: '' } }), route))).toBe('allow-public-docs');
    const viaProxy = await gate.admit(request('completion/complete', { ref: { type: 'ref/prompt', name: 'gmail__greet' }, argument: { name: 'a', value: '' } }), aggregated);
    expect(viaProxy).toMatchObject({ kind: 'allow', message: { message: { params: { ref: { type: 'ref/prompt', name: 'greet' } } } } });
    expect(refused(await gate.admit(request('completion/complete', { ref: { type: 'ref/tool', name: 'x' } }), route)).error.message).toContain('params.ref.type must be');
    expect(refused(await gate.admit(request('completion/complete', {}), route)).error.message).toContain('params.ref must be an object');
  });

  it('decides logging/setLevel as the logging kind, and refuses it behind an aggregating proxy', async () => {
    expect(ruleOf(await gate.admit(request('logging/setLevel', { level: 'debug' }), route))).toBe('allow-logging');
    expect(refused(await gate.admit(request('logging/setLevel', { level: 'debug' }), aggregated)).error).toMatchObject({ code: ErrorCodes.invalidParams, message: expect.stringContaining('names no server') });
  });

  it('refuses resources/* behind an aggregating proxy: the URI names no server', async () => {
    const r = refused(await gate.admit(request('resources/read', { uri: 'file:///public/readme.md' }), aggregated));
    expect(r.error).toMatchObject({ code: ErrorCodes.invalidParams, message: expect.stringContaining('must be routed to a server') });
  });

  it('refuses non-canonical and malformed URIs with the reason, before deciding', async () => {
    for (const [uri, why] of [
      ['file:///public/../secret', '".." path segment'], ['FILE:///public/a', 'upper-case scheme'], ['file:///public/a ', 'a space'],
      ['file:///public/%2E%2E/secret', 'unreserved character'], ['file:///public/a#x', 'fragment'], [7, 'must be a string'],
    ] as const) {
      const r = refused(await gate.admit(request('resources/read', { uri }), route));
      expect(r.error.code, String(uri)).toBe(ErrorCodes.invalidParams);
      expect(r.error.message, String(uri)).toContain(why);
    }
  });

  it('records decisions and refusals with the method and the target', async () => {
    records.decisions.length = 0;
    records.refusals.length = 0;
    await gate.admit(request('resources/read', { uri: 'file:///public/secret.txt' }, 42), route);
    expect(records.decisions.at(-1)!.call).toMatchObject({ tool: '', operation: { kind: 'resource', method: 'resources/read', target: 'file:///public/secret.txt' }, requestId: 42 });
    expect(records.refusals.at(-1)).toMatchObject({ method: 'resources/read', server: 'gmail', target: 'file:///public/secret.txt', requestId: 42, stage: 'decision' });
  });

  it('decides governed methods even when passMethods lists them', async () => {
    const router = (gate as unknown as { router: PolicyRouter }).router;
    const g = new Gate({ router, log, passMethods: ['resources/read', 'sampling/custom'] });
    expect(ruleOf(await g.admit(request('resources/read', { uri: 'file:///private/x' }), route))).toBe('toolgate:default');
    expect(await g.admit(request('sampling/custom', {}), route)).toMatchObject({ kind: 'allow' });
  });

  it('decides resources and prompts by the labels and verb their overrides give them', async () => {
    const g = await gateFor({
      defaultAction: 'allow',
      resourceOverrides: [{ server: 'gmail', uri: 'mail://hr/*', labels: ['data:pii'] }],
      promptOverrides: [{ server: 'gmail', prompt: 'send_*', verb: 'create', labels: ['category:communication'] }],
      policies: [
        { name: 'no-pii-reads', priority: 1, when: { kinds: ['resource'], labels: ['data:pii'] }, action: 'deny' },
        { name: 'no-send-prompts', priority: 2, when: { kinds: ['prompt'], verbs: ['create'] }, action: 'deny' },
      ],
    });
    expect(refused(await g.admit(request('resources/read', { uri: 'mail://hr/salaries' }), route)).error.data).toMatchObject({ rule: 'no-pii-reads' });
    expect(ruleOf(await g.admit(request('resources/read', { uri: 'mail://inbox/1' }), route))).toBe('toolgate:default');
    expect(ruleOf(await g.admit(request('prompts/get', { name: 'send_reply' }), route))).toBe('no-send-prompts');
    expect(g.visibleResources('gmail', [{ uri: 'mail://hr/a' }, { uri: 'mail://inbox/1' }], caller)).toEqual([{ uri: 'mail://inbox/1' }]);
  });

  it('lets everything through under an allow-all policy (defaultAction allow, no rules)', async () => {
    const open = await gateFor({ defaultAction: 'allow', policies: [] });
    for (const [method, params] of [
      ['resources/read', { uri: 'file:///private/x' }], ['prompts/get', { name: 'anything' }], ['logging/setLevel', { level: 'info' }],
      ['completion/complete', { ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a', value: '' } }],
    ] as const) {
      expect(await open.admit(request(method, params), route), method).toMatchObject({ kind: 'allow', verdict: { decision: { rule: 'toolgate:default', action: 'allow' } } });
    }
  });
});

describe('listings', () => {
  it('passes resource and prompt listings only to a front end that says what it does with them', async () => {
    for (const method of ['resources/list', 'resources/templates/list', 'prompts/list']) {
      expect(refused(await gate.admit(request(method, {}), { ...aggregated, listings: undefined })).error, method).toMatchObject({ code: ErrorCodes.methodNotFound, message: expect.stringContaining('does not filter the listing') });
      expect(await gate.admit(request(method, {}), { ...aggregated, listings: 'filtered' }), method).toMatchObject({ kind: 'allow' });
    }
    expect(await gate.admit(request('tools/list', {}), aggregated)).toMatchObject({ kind: 'allow' });
  });

  const resources = [
    { uri: 'file:///public/a.md', name: 'a' }, { uri: 'file:///public/secret.md', name: 's' }, { uri: 'file:///private/b', name: 'b' },
    { uri: 'file:///public/../private/b', name: 'sneaky' }, { uri: 'FILE:///public/c', name: 'upper' },
  ];

  it('shows exactly the resources a read would allow', async () => {
    const visible = gate.visibleResources('gmail', resources, caller).map((r) => r.name);
    expect(visible).toEqual(['a']);
    // Consistent by construction: every listed resource reads, every hidden one is refused.
    for (const r of resources) {
      const a = await gate.admit(request('resources/read', { uri: r.uri }), route);
      expect(a.kind === 'allow', r.uri).toBe(visible.includes(r.name));
    }
  });

  it('shows exactly the prompts a get would allow', async () => {
    const prompts = [{ name: 'greet' }, { name: 'other' }, { name: 'greet ' }, { name: 'Greet' }];
    const visible = gate.visiblePrompts('gmail', prompts, caller);
    expect(visible).toEqual([{ name: 'greet' }]);
    for (const p of prompts) {
      const a = await gate.admit(request('prompts/get', { name: p.name }), route);
      expect(a.kind === 'allow', p.name).toBe(visible.includes(p));
    }
    expect(gate.visiblePrompts('github', prompts, caller)).toEqual([]);
    expect(gate.visiblePrompts('nowhere', prompts, caller)).toEqual([]);
  });

  it('shows the resource templates a completion of the template would allow', async () => {
    const templates = [{ uriTemplate: 'file:///public/{path}' }, { uriTemplate: 'file:///private/{path}' }, { uriTemplate: 'file:///public/secret/{x}' }];
    expect(gate.visibleResourceTemplates('gmail', templates, caller)).toEqual([{ uriTemplate: 'file:///public/{path}' }]);
  });
});

describe('MCP 2026-07-28 discovery and change notifications (both front ends)', () => {
  it('lets server/discover through like initialize', async () => {
    expect((await gate.admit(request('server/discover', {}), route)).kind).toBe('allow');
  });

  it('admits subscriptions/listen only for resources the caller may read, naming the first it may not', async () => {
    const listen = (uris: unknown) => request('subscriptions/listen', { notifications: { toolsListChanged: true, resourceSubscriptions: uris } });
    expect((await gate.admit(listen(['file:///public/a.txt']), route)).kind).toBe('allow');
    expect((await gate.admit(request('subscriptions/listen', { notifications: { toolsListChanged: true } }), route)).kind).toBe('allow');
    const r = refused(await gate.admit(listen(['file:///public/a.txt', 'file:///public/secret.txt']), route));
    expect(r.error.code).toBe(ErrorCodes.invalidParams);
    expect(r.error.message).toContain('"file:///public/secret.txt"');
    expect(r.error.message).toContain('deny-secret-docs');
    // A URI no rule allows falls to the default (deny) as a read would; a non-canonical one is refused as a read is.
    expect(refused(await gate.admit(listen(['file:///private/x']), route)).error.code).toBe(ErrorCodes.invalidParams);
    expect(refused(await gate.admit(listen(['file:///public/../secret']), route)).error.message).toMatch(/subscriptions\/listen refused/);
    expect(refused(await gate.admit(listen('file:///public/a.txt'), route)).error.message).toContain('must be an array');
  });
});
