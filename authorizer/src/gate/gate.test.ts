// The gate over the real policy.wasm and the decision-table fixture policy: what passes, what is
// decided with which annotations, how each refusal maps to an HTTP status and a JSON-RPC error
// (gate/README.md), that every refusal is handed to the audit hook, and which tools tools/list
// may show.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensurePolicyWasm } from '../../../pkg/policy/engine/policy-wasm.ts';
import { compileVariant } from '../../../pkg/policy/engine/testdata/cases.ts';
import { AuthenticationError } from '../identity/errors.ts';
import { anyNameCatalog } from '../../../test/support/any-name-catalog.ts';
import { GatewayAuthRefusal } from './authenticate.ts';
import { StaticToolCatalog, type CatalogTool, type ToolCatalog } from './catalog.ts';
import type { DecisionRecord } from './decision-path.ts';
import { Gate, type AdmitContext, type GateOptions } from './gate.ts';
import { ErrorCodes, parseJsonRpc } from './jsonrpc.ts';
import type { Admission, Refusal, RefusalRecord } from './outcome.ts';
import { PolicyRouter } from './policy-router.ts';
import type { CallerIdentity, GatewayConfig } from './types.ts';

const log = pino({ level: 'silent' });
const scopes = ['norg:contacts:read', 'norg:messaging:write', 'norg:messaging:bulk', 'norg:booking:write', 'norg:booking:modify', 'norg:crm:write', 'norg:crm:delete', 'norg:ads:read', 'norg:ads:spend'];
const caller = (over: Partial<CallerIdentity> = {}): CallerIdentity => ({ subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes, ...over });
const router = new PolicyRouter();
const refusals: RefusalRecord[] = [];
const decisions: DecisionRecord[] = [];
let wasm: Buffer;

// The decision tests need no upstream: the catalog lists whatever name is called.
const newGate = (o: Partial<GateOptions> = {}) => new Gate({ router, log, catalog: anyNameCatalog, onRefusal: (r) => refusals.push(r), onDecision: (r) => decisions.push(r), ...o });
const gate = newGate();
const ctx = (over: Partial<CallerIdentity> = {}): AdmitContext => ({ caller: caller(over), frontEnd: 'proxy', naming: { separator: '__' } });

function call(tool: string, args?: unknown, id: number | string = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, ...(args !== undefined ? { arguments: args } : {}) } });
}

const admit = (body: string, c = ctx(), g = gate): Promise<Admission> => g.admit(parseJsonRpc(body), c);
const refused = (a: Admission): Refusal => {
  if (a.kind !== 'refuse') throw new Error(`expected a refusal, got ${a.kind}`);
  return a.refusal;
};

beforeAll(async () => {
  wasm = readFileSync(ensurePolicyWasm());
  const data = compileVariant('base');
  await router.entry('ns/table').engine.load(wasm, data, 'rev-1');
  router.update('ns/table', { gateway: data.toolgate.gateway, data });
});

describe('admit', () => {
  it('lets session plumbing, discovery, notifications and responses through without a decision', async () => {
    for (const body of [
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}',
      '{"jsonrpc":"2.0","id":2,"method":"ping"}',
      '{"jsonrpc":"2.0","id":3,"method":"tools/list"}',
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","id":"s-1","result":{}}',
    ]) {
      const r = await admit(body);
      expect(r.kind, body).toBe('allow');
      expect(r.kind === 'allow' && r.verdict, body).toBeFalsy();
    }
  });

  it('refuses a tools/call sent as a notification with 400: it has no reply to carry an error', async () => {
    const r = refused(await admit('{"jsonrpc":"2.0","method":"tools/call","params":{"name":"gmail__delete_email"}}'));
    expect(r).toMatchObject({ stage: 'message', httpStatus: 400, id: null, error: { code: ErrorCodes.invalidRequest } });
  });

  it('answers a refused request 200 with the JSON-RPC error, naming the allowed methods', async () => {
    const r = refused(await admit('{"jsonrpc":"2.0","id":9,"method":"tools/frobnicate","params":{}}'));
    expect(r).toMatchObject({ stage: 'message', id: 9, httpStatus: 200, error: { code: ErrorCodes.methodNotFound } });
    expect(r.error.message).toContain('tools/call');
    expect(r.error.message).toContain('resources/read');
  });

  it('decides an allowed call and returns the verdict with the revision', async () => {
    const r = await admit(call('gmail__read_email', { id: '1' }));
    if (r.kind !== 'allow') throw new Error(r.kind);
    expect(r.verdict).toMatchObject({ effect: 'proceed', revision: 'rev-1', decision: { action: 'allow', rule: 'Allow read-only' } });
    expect(r.verdict?.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.call).toMatchObject({ server: 'gmail', tool: 'read_email', frontEnd: 'proxy' });
  });

  it('answers a denial 200 with the rule and the decision id', async () => {
    const r = refused(await admit(call('fetch__fetch', { url: 'http://169.254.169.254/latest/' }, 'x')));
    expect(r).toMatchObject({ stage: 'decision', id: 'x', httpStatus: 200, error: { code: ErrorCodes.policyDenied, data: { rule: 'Block SSRF to cloud metadata', revision: 'rev-1' } } });
    expect(r.error.message).toContain('Block SSRF to cloud metadata');
    expect(r.verdict?.decisionId).toBe((r.error.data as { decisionId: string }).decisionId);
  });

  it('refuses require_approval with the approver groups when no coordinator holds calls, and holds it when one does', async () => {
    const r = refused(await admit(call('gmail__send_email', { to: 'eve@evil.com' })));
    expect(r.verdict?.effect).toBe('hold');
    expect(r).toMatchObject({ httpStatus: 200, error: { code: ErrorCodes.approvalRequired, data: { rule: 'Approve external communication', approvers: ['manager'], quorum: 1, timeout: '60m' } } });
    const holding = newGate({ approvals: {} as never });
    const held = await admit(call('gmail__send_email', { to: 'eve@evil.com' }, 4), ctx(), holding);
    expect(held).toMatchObject({ kind: 'hold', held: { message: { id: 4 }, call: { server: 'gmail', tool: 'send_email' }, verdict: { effect: 'hold' } } });
  });

  it('answers a missing scope 403 with the insufficient_scope challenge naming the scopes and the metadata', async () => {
    const r = refused(await admit(call('norg__send_message', { to: '+1555' }), ctx({ scopes: ['norg:contacts:read'] })));
    expect(r).toMatchObject({ httpStatus: 403, error: { code: ErrorCodes.insufficientScope, data: { requiredScopes: ['norg:messaging:write'] } } });
    // The fixture's audience is https://toolgate.acme.com: its RFC 9728 location, never the request's Host.
    expect(r.wwwAuthenticate).toBe('Bearer resource_metadata="https://toolgate.acme.com/.well-known/oauth-protected-resource", error="insufficient_scope", error_description="token lacks scope norg:messaging:write", scope="norg:messaging:write"');
    const configured = refused(await admit(call('norg__send_message', { to: '+1555' }), ctx({ scopes: [] }), newGate({ resourceMetadataUrl: 'https://fixed.example/prm' })));
    expect(configured.wwwAuthenticate).toContain('resource_metadata="https://fixed.example/prm"');
  });

  it('refuses malformed params and unprefixed names before deciding', async () => {
    const before = decisions.length;
    expect(refused(await admit('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}'))).toMatchObject({ httpStatus: 200, error: { code: ErrorCodes.invalidParams } });
    expect(refused(await admit('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}')).error.message).toContain('params.name must be a non-empty string');
    expect(refused(await admit(call('gmail__read_email', ['1']))).error.message).toBe('params.arguments must be an object');
    expect(refused(await admit(call('read_email', {}))).error.message).toContain('has no server prefix');
    expect(decisions.length).toBe(before);
  });

  it('takes the server from the route for ext_authz, and decides a server no policy governs as unknown', async () => {
    const viaRoute = await admit(call('read_email', {}), { ...ctx(), frontEnd: 'ext_authz', naming: { server: 'gmail' } });
    expect(viaRoute).toMatchObject({ kind: 'allow', call: { server: 'gmail', tool: 'read_email', frontEnd: 'ext_authz' } });
    const unknown = refused(await admit(call('dropbox__share_file', {})));
    expect(unknown).toMatchObject({ httpStatus: 200, error: { code: ErrorCodes.policyDenied, data: { rule: 'toolgate:unknown-server' } } });
  });

  it('fails closed as unavailable before a policy governing the server is loaded', async () => {
    const other = new PolicyRouter();
    other.entry('ns/pending');
    const r = refused(await admit(call('gmail__read_email', {}), ctx(), new Gate({ router: other, log })));
    expect(r).toMatchObject({ httpStatus: 200, error: { code: ErrorCodes.policyUnavailable } });
  });

  it('refuses a server two loaded policies both claim', async () => {
    const twice = new PolicyRouter();
    const data = compileVariant('base');
    for (const key of ['ns/a', 'ns/b']) {
      await twice.entry(key).engine.load(wasm, data, key);
      twice.update(key, { gateway: { ...data.toolgate.gateway, policy: { namespace: 'ns', name: key } } as GatewayConfig, data });
    }
    const r = refused(await admit(call('gmail__read_email', {}), ctx(), new Gate({ router: twice, log })));
    expect(r.error.message).toContain('more than one policy');
  });
});

describe('admit with a tool catalog', () => {
  const sandbox = (tools: CatalogTool[]) => newGate({ catalog: new StaticToolCatalog({ sandbox: tools }) });

  it('decides with the annotations the server lists for exactly that name', async () => {
    const g = sandbox([{ name: 'peek', annotations: { readOnlyHint: true } }, { name: 'get_status', annotations: { readOnlyHint: false } }]);
    expect(await admit(call('sandbox__peek', {}), ctx(), g)).toMatchObject({ kind: 'allow', call: { annotations: { readOnlyHint: true } }, verdict: { decision: { rule: 'Allow read-only', sources: ['server'] } } });
    // A read-only name, but the server admits writes: believed.
    expect(refused(await admit(call('sandbox__get_status', {}), ctx(), g)).error.data).toMatchObject({ rule: 'Approve destructive operations' });
  });

  // Regression (issue 10): unlisted names used to be decided on name patterns, so a look-alike of
  // a denied or approval-gated tool was allowed. Fails on the code before: these were 'allow'.
  it('refuses a name the server does not list exactly as an unknown tool, before any name pattern', async () => {
    const g = sandbox([{ name: 'get-env' }, { name: 'get-sum' }, { name: 'peek', annotations: { readOnlyHint: true } }]);
    const before = decisions.length;
    for (const name of ['peek ', 'PEEK', 'Peek', ' peek', 'peek\u0000', 'pe\u200bek', '\u202epeek', 'pe\u00ADek', 'get_env', 'GET-ENV', 'get-env ', 'get-sum ', 'sandbox__peek', 'pee\u006b\u0301']) {
      const r = refused(await admit(call(`sandbox__${name}`, {}), ctx(), g));
      expect(r, name).toMatchObject({ stage: 'message', httpStatus: 200, error: { code: ErrorCodes.invalidParams, message: expect.stringMatching(/^unknown tool .*server "sandbox" does not list it/) } });
      expect(r.verdict, name).toBeUndefined();
    }
    expect(decisions.length).toBe(before);
    expect(await admit(call('sandbox__peek', {}), ctx(), g)).toMatchObject({ kind: 'allow' });
  });

  it('fails closed when the catalog cannot list the server: 503 "tool catalog unavailable", never a pattern decision', async () => {
    const down: ToolCatalog = { lookup: async () => ({ kind: 'unavailable', reason: 'connection refused' }) };
    for (const g of [newGate({ catalog: down }), new Gate({ router, log })]) {
      const r = refused(await admit(call('gmail__read_email', {}), ctx(), g));
      expect(r).toMatchObject({ stage: 'decision', httpStatus: 503, id: 1, headers: { 'retry-after': '5' }, error: { code: ErrorCodes.policyUnavailable, message: expect.stringContaining('tool catalog unavailable') } });
      expect(r.verdict).toBeUndefined();
    }
  });

  it('refuses a name the server lists twice rather than choose a definition', async () => {
    const r = refused(await admit(call('sandbox__peek', {}), ctx(), sandbox([{ name: 'peek', annotations: { readOnlyHint: true } }, { name: 'peek' }])));
    expect(r).toMatchObject({ stage: 'message', httpStatus: 200, error: { code: ErrorCodes.invalidParams, message: expect.stringContaining('more than once') } });
  });

  it('asks the catalog only for governed servers, with the caller\'s signal', async () => {
    const asked: Array<[string, string, boolean]> = [];
    const catalog: ToolCatalog = { lookup: async (server, tool, signal) => { asked.push([server, tool, signal !== undefined]); return { kind: 'unavailable', reason: 'down' }; } };
    const g = newGate({ catalog });
    await admit(call('dropbox__x', {}), ctx(), g);
    expect(await admit(call('gmail__read_email', {}), { ...ctx(), signal: AbortSignal.timeout(1000) }, g)).toMatchObject({ kind: 'refuse' });
    expect(asked).toEqual([['gmail', 'read_email', true]]);
  });
});

describe('authenticate, read and refuse', () => {
  const rc = { frontEnd: 'ext_authz' as const };

  it('maps RFC 6750 failures to their status with a challenge naming the metadata, and every refusal to the hook', async () => {
    const g = newGate({ authenticate: async () => { throw new AuthenticationError({ status: 401, error: 'invalid_token', reason: 'expired', description: 'token expired' }); } });
    const before = refusals.length;
    const a = await g.authenticate({ authorization: 'Bearer x', url: '/mcp', server: 'gmail' }, rc);
    if (a.ok) throw new Error('authenticated');
    expect(a.refusal).toMatchObject({ stage: 'authentication', httpStatus: 401, id: null, error: { code: ErrorCodes.unauthenticated, message: 'authentication failed: token expired', data: { error: 'invalid_token' } } });
    expect(a.refusal.wwwAuthenticate).toBe('Bearer resource_metadata="https://toolgate.acme.com/.well-known/oauth-protected-resource", error="invalid_token", error_description="token expired"');
    expect(refusals.slice(before)).toEqual([{ frontEnd: 'ext_authz', stage: 'authentication', httpStatus: 401, code: ErrorCodes.unauthenticated, reason: 'authentication failed: token expired', server: 'gmail' }]);
  });

  it('answers refusals before any token was read without a challenge, and an authenticator bug as 500', async () => {
    const pending = await newGate({ authenticate: async () => { throw new GatewayAuthRefusal(503, ErrorCodes.policyUnavailable, 'policy unavailable'); } }).authenticate({ authorization: undefined, url: '/' }, rc);
    expect(pending).toMatchObject({ ok: false, refusal: { httpStatus: 503, error: { code: ErrorCodes.policyUnavailable } } });
    expect(pending.ok === false && pending.refusal.wwwAuthenticate).toBeUndefined();
    const bug = await newGate({ authenticate: async () => { throw new TypeError('oops'); } }).authenticate({ authorization: undefined, url: '/' }, rc);
    expect(bug).toMatchObject({ ok: false, refusal: { stage: 'internal', httpStatus: 500, error: { code: ErrorCodes.internalError } } });
    expect(JSON.stringify(bug)).not.toContain('oops');
  });

  it('refuses bodies over the limit with 413 and unparsable ones with 400, never quoting the body', () => {
    const g = newGate({ maxBodyBytes: 64 });
    expect(g.read('x'.repeat(65), rc)).toMatchObject({ ok: false, refusal: { stage: 'transport', httpStatus: 413, error: { code: ErrorCodes.transport, message: 'request body larger than 64 bytes' } } });
    const secret = 'hunter2-hunter2';
    const bad = g.read(`{"jsonrpc":"2.0","id":1,"x":${secret}}`, rc);
    expect(bad).toMatchObject({ ok: false, refusal: { stage: 'parse', httpStatus: 400, error: { code: ErrorCodes.parseError } } });
    expect(JSON.stringify(bad)).not.toContain(secret);
    expect(refusals.at(-1)?.reason).not.toContain(secret);
    expect(g.read('[]', rc)).toMatchObject({ ok: false, refusal: { httpStatus: 400, error: { code: ErrorCodes.invalidRequest } } });
    expect(g.read('{"jsonrpc":"2.0","id":1,"method":"ping"}', rc)).toMatchObject({ ok: true });
  });

  it('is unavailable (503, Retry-After) until every policy it knows has loaded', () => {
    const other = new PolicyRouter();
    other.entry('ns/pending');
    expect(new Gate({ router: other, log }).unavailable(rc)).toMatchObject({ httpStatus: 503, headers: { 'retry-after': '5' }, error: { code: ErrorCodes.policyUnavailable } });
    expect(gate.unavailable(rc)).toBeUndefined();
  });

  it('records the caller, session, request id and decision of a refusal, but never the token', async () => {
    const before = refusals.length;
    await admit(call('fetch__fetch', { url: 'http://169.254.169.254/' }, 77), { ...ctx(), sessionId: 's-9', caller: { ...caller(), tokenId: 'jti-secret' } });
    const [r] = refusals.slice(before);
    expect(r).toMatchObject({ frontEnd: 'proxy', stage: 'decision', method: 'tools/call', server: 'fetch', tool: 'fetch', sessionId: 's-9', requestId: 77, httpStatus: 200, code: ErrorCodes.policyDenied });
    expect(r?.decisionId).toBe(decisions.at(-1)?.verdict.decisionId);
  });
});

describe('visibleTools', () => {
  const names = (server: string, tools: string[], over: Partial<CallerIdentity> = {}) =>
    gate.visibleTools(server, tools.map((name) => ({ name })), caller(over)).map((t) => t.name);

  it('hides tools a role grant forbids whatever the arguments', () => {
    expect(names('stripe', ['create_refund', 'list_customers'], { roles: ['analyst'] })).not.toContain('create_refund');
    expect(names('stripe', ['create_refund'], { roles: ['analyst', 'admin'] })).toEqual(['create_refund']);
  });

  it('hides tools the caller lacks the scope for', () => {
    expect(names('norg', ['send_message', 'get_contacts'], { scopes: ['norg:contacts:read'] })).toEqual(['get_contacts']);
  });

  it('keeps a default-denied tool visible when its arguments can add labels a rule reads', () => {
    // kubectl_apply to staging is denied by default, to production held for approval.
    expect(names('kubernetes', ['kubectl_apply'])).toEqual(['kubectl_apply']);
  });

  it('hides a default-denied tool whose arguments no classifier reads', () => {
    const tools = [{ name: 'annotate', annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false } }, { name: 'peek', annotations: { readOnlyHint: true } }];
    const decided = tools.map((t) => router.entry('ns/table').engine.evaluate({ server: 'sandbox', tool: t.name, annotations: t.annotations, caller: { roles: [], scopes } }));
    expect(decided.map((d) => [d.action, d.rule])).toEqual([['deny', 'toolgate:default'], ['allow', 'Allow read-only']]);
    expect(gate.visibleTools('sandbox', tools, caller()).map((t) => t.name)).toEqual(['peek']);
  });

  it('hides every tool of a server no loaded policy governs', () => {
    expect(names('dropbox', ['share_file'])).toEqual([]);
  });
});

// Regression (issue 10): bodies were read with JSON.parse, which keeps the last of two equal
// keys, rounds big integers, reads 1.0 as 1 and accepts lone surrogates (which then failed the
// policy engine as 503) and any depth (which overflowed the audit writer). Each case below was
// accepted (or answered 503) by the code before.
describe('strict parsing', () => {
  const rc = { frontEnd: 'proxy' as const };
  const g = newGate();

  it('refuses a repeated key at any depth: in the envelope, in params, in the arguments', () => {
    for (const [body, code] of [
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__delete_email","name":"gmail__read_email"}}', ErrorCodes.invalidRequest],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email","nam\\u0065":"gmail__delete_email"}}', ErrorCodes.invalidRequest],
      ['{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', ErrorCodes.invalidRequest],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email","arguments":{"a":{"b":[{"c":1,"c":2}]}}}}', ErrorCodes.invalidParams],
    ] as const) {
      const r = g.read(body, rc);
      expect(r, body).toMatchObject({ ok: false, refusal: { stage: 'parse', httpStatus: 400, error: { code } } });
      expect(!r.ok && r.refusal.error.message, body).toContain('key');
    }
  });

  it('bounds arguments at 64 levels with an invalid-params error naming the bound, before deciding', async () => {
    const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;
    const body = (levels: number) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email","arguments":${nested(levels)}}}`;
    const ok = g.read(body(64), rc);
    if (!ok.ok) throw new Error(ok.refusal.error.message);
    expect(await g.admit(ok.message, ctx())).toMatchObject({ kind: 'allow' });
    for (const levels of [65, 3000, 100_000]) {
      const r = g.read(body(levels), rc);
      expect(r).toMatchObject({ ok: false, refusal: { stage: 'parse', httpStatus: 400, error: { code: ErrorCodes.invalidParams, message: expect.stringContaining('nested deeper than 64 levels') } } });
    }
  });

  it('answers a lone surrogate anywhere, the tool name included, as a 400 client error, never 503', () => {
    for (const body of [
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email\\ud800"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email","arguments":{"q":"\\udfff"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email","arguments":{"\\ud83d":1}}}',
    ]) {
      expect(g.read(body, rc), body).toMatchObject({ ok: false, refusal: { stage: 'parse', httpStatus: 400, error: { code: ErrorCodes.parseError, message: expect.stringContaining('surrogate') } } });
    }
  });

  it('keeps numbers exact: the policy input gets plain values, inexact ones as their exact text', async () => {
    const r = g.read('{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"gmail__read_email","arguments":{"big":1234567890123456789,"one":1.0,"tenth":0.1,"huge":1e400}}}', rc);
    if (!r.ok) throw new Error(r.refusal.error.message);
    expect(r.message.kind === 'request' && r.message.message.id).toBe(1);
    const a = await g.admit(r.message, ctx());
    if (a.kind !== 'allow' || !a.call) throw new Error(a.kind);
    const { policyInput } = await import('./decision-path.ts');
    expect(policyInput(a.call).arguments).toEqual({ big: '1234567890123456789', one: 1, tenth: 0.1, huge: '1e400' });
    // What goes upstream is the digits as written.
    expect(JSON.stringify(a.message.message)).toContain('"arguments":{"big":1234567890123456789,"one":1.0,"tenth":0.1,"huge":1e400}');
    expect(g.read('{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}', rc)).toMatchObject({ ok: false, refusal: { httpStatus: 400, error: { code: ErrorCodes.invalidRequest, message: expect.stringContaining('id must be') } } });
  });
});

describe('numbers outside the arguments', () => {
  it('are plain JS values (a progress token stays a number), the arguments stay exact', () => {
    const r = newGate().read('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__read_email","_meta":{"progressToken":7},"arguments":{"n":1.0}}}', { frontEnd: 'proxy' });
    if (!r.ok || r.message.kind !== 'request') throw new Error('not read');
    const params = r.message.message.params as { _meta: { progressToken: unknown }; arguments: { n: unknown } };
    expect(params._meta.progressToken).toBe(7);
    expect(String(params.arguments.n)).toBe('1.0');
    expect(newGate().read('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":1e400}}', { frontEnd: 'proxy' })).toMatchObject({ ok: false, refusal: { httpStatus: 400, error: { code: ErrorCodes.invalidRequest } } });
  });
});
