// The shared decision path over the real policy.wasm and the decision-table fixture policy:
// what passes, what is decided, how each outcome maps to an HTTP status and a JSON-RPC error,
// and which tools tools/list may show.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensurePolicyWasm } from '../../../pkg/policy/engine/policy-wasm.ts';
import { compileVariant } from '../../../pkg/policy/engine/testdata/cases.ts';
import { DecisionPath, type GateContext, type GateResult } from './decision-path.ts';
import { ErrorCodes, parseJsonRpc } from './jsonrpc.ts';
import { PolicyRouter } from './policy-router.ts';
import type { CallerIdentity, GatewayConfig } from './types.ts';

const log = pino({ level: 'silent' });
const scopes = ['norg:contacts:read', 'norg:messaging:write', 'norg:messaging:bulk', 'norg:booking:write', 'norg:booking:modify', 'norg:crm:write', 'norg:crm:delete', 'norg:ads:read', 'norg:ads:spend'];
const caller = (over: Partial<CallerIdentity> = {}): CallerIdentity => ({ subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes, ...over });
const router = new PolicyRouter();
const path = new DecisionPath({ router, log });
let wasm: Buffer;

function ctx(over: Partial<CallerIdentity> = {}): GateContext {
  return {
    caller: caller(over),
    frontEnd: 'proxy',
    resolveTool: (name) => {
      const i = name.indexOf('__');
      return i > 0 ? { server: name.slice(0, i), tool: name.slice(i + 2) } : { error: `tool "${name}" is not of the form <server>__<tool>` };
    },
  };
}

function call(tool: string, args?: unknown, id: number | string = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, ...(args !== undefined ? { arguments: args } : {}) } });
}

const gate = (body: string, c = ctx()): GateResult => path.gate(parseJsonRpc(body), c);
const refused = (r: GateResult) => {
  if (r.allow) throw new Error(`expected a refusal, got allow for ${r.method}`);
  return r;
};

beforeAll(async () => {
  wasm = readFileSync(ensurePolicyWasm());
  const data = compileVariant('base');
  const entry = router.entry('ns/table');
  await entry.engine.load(wasm, data, 'rev-1');
  router.update('ns/table', { gateway: data.toolgate.gateway, data });
});

describe('gate', () => {
  it('lets session plumbing, discovery, notifications and responses through without a decision', () => {
    for (const body of [
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}',
      '{"jsonrpc":"2.0","id":2,"method":"ping"}',
      '{"jsonrpc":"2.0","id":3,"method":"tools/list"}',
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","id":"s-1","result":{}}',
    ]) {
      const r = gate(body);
      expect(r.allow, body).toBe(true);
      expect(r.verdict, body).toBeUndefined();
    }
  });

  it('refuses a tools/call sent as a notification, which would otherwise skip the decision', () => {
    const r = refused(gate('{"jsonrpc":"2.0","method":"tools/call","params":{"name":"gmail__delete_email"}}'));
    expect(r.httpStatus).toBe(400);
    expect(r.error.code).toBe(ErrorCodes.invalidRequest);
  });

  it('refuses methods it does not know, naming the allowed ones', () => {
    const r = refused(gate('{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}'));
    expect(r).toMatchObject({ id: 9, httpStatus: 403, error: { code: ErrorCodes.methodNotFound } });
    expect(r.error.message).toContain('tools/call');
  });

  it('decides an allowed call and returns the verdict with the revision', () => {
    const r = gate(call('gmail__read_email', { id: '1' }));
    expect(r.allow).toBe(true);
    expect(r.verdict).toMatchObject({ effect: 'proceed', revision: 'rev-1', decision: { action: 'allow', rule: 'Allow read-only' } });
    expect(r.verdict?.decisionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('maps a denial to 403 with the rule and the decision id', () => {
    const r = refused(gate(call('fetch__fetch', { url: 'http://169.254.169.254/latest/' }, 'x')));
    expect(r).toMatchObject({ id: 'x', httpStatus: 403, error: { code: ErrorCodes.policyDenied, data: { rule: 'Block SSRF to cloud metadata', revision: 'rev-1' } } });
    expect(r.error.message).toContain('Block SSRF to cloud metadata');
  });

  it('maps require_approval to an approval error naming the approver groups', () => {
    const r = refused(gate(call('gmail__send_email', { to: 'eve@evil.com' })));
    expect(r.verdict?.effect).toBe('hold');
    expect(r.error).toMatchObject({ code: ErrorCodes.approvalRequired, data: { rule: 'Approve external communication', approvers: ['manager'], quorum: 1, timeout: '60m' } });
    expect(r.error.message).toContain('manager');
  });

  it('maps a missing scope to insufficient_scope with the scopes the tool needs', () => {
    const r = refused(gate(call('norg__send_message', { to: '+1555' }), ctx({ scopes: ['norg:contacts:read'] })));
    expect(r.error.code).toBe(ErrorCodes.insufficientScope);
    expect(r.requiredScopes).toContain('norg:messaging:write');
  });

  it('refuses malformed params before deciding', () => {
    expect(refused(gate('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}')).error.code).toBe(ErrorCodes.invalidParams);
    expect(refused(gate(call('gmail__read_email', ['1']))).error.code).toBe(ErrorCodes.invalidParams);
    expect(refused(gate(call('read_email', {}))).httpStatus).toBe(404);
  });

  it('fails closed as unavailable before a policy governing the server is loaded', () => {
    const other = new PolicyRouter();
    other.entry('ns/pending');
    const r = refused(new DecisionPath({ router: other, log }).gate(parseJsonRpc(call('gmail__read_email', {})), ctx()));
    expect(r).toMatchObject({ httpStatus: 503, error: { code: ErrorCodes.policyUnavailable } });
  });

  it('refuses a server two loaded policies both claim', async () => {
    const twice = new PolicyRouter();
    const data = compileVariant('base');
    for (const key of ['ns/a', 'ns/b']) {
      await twice.entry(key).engine.load(wasm, data, key);
      twice.update(key, { gateway: { ...data.toolgate.gateway, policy: { namespace: 'ns', name: key } } as GatewayConfig, data });
    }
    const r = refused(new DecisionPath({ router: twice, log }).gate(parseJsonRpc(call('gmail__read_email', {})), ctx()));
    expect(r.error.message).toContain('more than one policy');
  });
});

describe('visibleTools', () => {
  const names = (server: string, tools: string[], over: Partial<CallerIdentity> = {}) =>
    path.visibleTools(server, tools.map((name) => ({ name })), caller(over)).map((t) => t.name);

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
    expect(path.visibleTools('sandbox', tools, caller()).map((t) => t.name)).toEqual(['peek']);
  });

  it('hides every tool of a server no loaded policy governs', () => {
    expect(names('dropbox', ['share_file'])).toEqual([]);
  });
});
