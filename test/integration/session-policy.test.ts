// Session-aware policy end to end: the official SDK client through the proxy and Envoy's
// ext_authz Check over real gRPC, the reference MCP server upstream, taint in the real API
// server. A burst beyond a limit is refused and recovers after the window; a confidential read
// then an external send is denied in that session, in a new session of the same caller, through
// another replica and after a restart, and allowed for another caller.
import { randomUUID } from 'node:crypto';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSessionTaint } from '../../api/v1alpha1/index.ts';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { KubeTaintStore, conversationMetaKey, sessionKeys, taintObjectName } from '../../authorizer/src/session/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { authorizationClient, checkOnce, envoyCheckRequest, toolsCall } from '../support/extauthz.ts';
import { audience, connectClient, startEverything, type EverythingServer } from './proxy-support.ts';
import { adminClient, authorizerIdentity, log, sessionPolicy, startSessionReplica, systemNamespace, type SessionReplica } from './session-support.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { main as kubectlMcp } from '../../kubectl-mcp/commands.ts';
import { controlPlane, withNamespace } from '../harness/kube.ts';
import { everythingProfile } from './proxy-support.ts';

const ns = withNamespace('session');
let issuer: TestIssuer;
let everything: EverythingServer;
let kubeConfig: KubeConfig;
const replicas: SessionReplica[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
// Each test its own policy name and subjects, so no test sees another's taint.
const policyFor = () => sessionPolicy(everything.url, issuer, `session-${randomUUID().slice(0, 8)}`);

async function replica(policy = policyFor()): Promise<SessionReplica> {
  const r = await startSessionReplica(policy, kubeConfig);
  replicas.push(r);
  return r;
}

async function client(r: SessionReplica, subject: string) {
  const c = await connectClient(r.proxy.url, await issuer.mint({ sub: subject, azp: 'agent-1' }));
  clients.push(c.client);
  return c.client;
}

async function kmcp(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { append(String(chunk)); cb(); } });
  const code = await kubectlMcp(args, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

const refusal = (p: Promise<unknown>) => p.then(() => { throw new Error('expected the call to be refused'); }, (err: unknown) => {
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
});

beforeAll(async () => {
  [issuer, everything] = await Promise.all([startJwtIssuer({ audience }), startEverything()]);
  kubeConfig = await authorizerIdentity();
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(replicas.map((r) => r.close().catch(() => undefined)));
  await Promise.all([everything?.close(), issuer?.close()]);
});

describe('velocity limit through the proxy', () => {
  it('refuses the call beyond the limit with -31010 and retryAfterMs, and lets it through after the window', async () => {
    const a = await replica();
    const c = await client(a, `burst-${randomUUID()}`);
    const sum = { name: 'get-sum', arguments: { a: 1, b: 2 } };
    for (let i = 0; i < 3; i++) expect((await c.callTool(sum)).isError).toBeFalsy();
    const err = await refusal(c.callTool(sum));
    expect(err.code).toBe(ErrorCodes.rateLimited);
    expect(err.message).toContain('velocity limit "sum-burst"');
    const { retryAfterMs } = err.data as { retryAfterMs: number };
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(2_000);
    // Other tools are not limited.
    expect((await c.callTool({ name: 'get-tiny-image', arguments: {} })).isError).toBeFalsy();
    await new Promise((r) => setTimeout(r, retryAfterMs + 50));
    expect((await c.callTool(sum)).isError).toBeFalsy();
  });
});

describe('velocity limit through ext_authz', () => {
  it('answers the call beyond the limit 429 with Retry-After and the JSON-RPC error', async () => {
    const a = await replica();
    const grpc = authorizationClient(a.extAuthz.port);
    const token = await issuer.mint({ sub: `envoy-${randomUUID()}`, azp: 'agent-1' });
    const check = (id: number) => checkOnce(grpc, envoyCheckRequest({ server: 'everything', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': 'envoy-session' }, body: toolsCall('get-sum', { a: 1, b: 2 }, id) }));
    for (let i = 1; i <= 3; i++) expect((await check(i)).ok_response, `call ${i}`).toBeDefined();
    const res = await check(4);
    const denied = res.denied_response!;
    expect(denied.status.code as unknown as string).toBe('TooManyRequests');
    const headers = Object.fromEntries((denied.headers ?? []).map((h: { header: { key: string; value: string } }) => [h.header.key, h.header.value]));
    expect(Number(headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const body = JSON.parse(denied.body) as { error: { code: number; data: { retryAfterMs: number } } };
    expect(body.error.code).toBe(ErrorCodes.rateLimited);
    expect(body.error.data.retryAfterMs).toBeGreaterThan(0);
    grpc.close();
  });
});

describe('taint', () => {
  it('denies an external send after a confidential read, and records the taint in the API server', async () => {
    const a = await replica();
    const subject = `reader-${randomUUID()}`;
    const c = await client(a, subject);
    expect((await c.callTool({ name: 'echo', arguments: { message: 'before any read' } })).isError).toBeFalsy();
    expect((await c.callTool({ name: 'get-env', arguments: {} })).isError).toBeFalsy();
    const err = await refusal(c.callTool({ name: 'echo', arguments: { message: 'the secrets' } }));
    expect(err.code).toBe(ErrorCodes.policyDenied);
    expect(err.message).toMatch(/denied by rule "no-exfiltration": session read data:confidential via everything\.get-env at \d{4}-\d\d-\d\dT[\d:.]+Z; flow rule "no-exfiltration" denies this call/);
    const keys = sessionKeys({ issuer: issuer.issuer, subject }, undefined, undefined);
    const obj = await adminClient().get<McpSessionTaint>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsessiontaints', namespace: systemNamespace, name: taintObjectName(keys.caller) });
    expect(obj.spec).toMatchObject({ scope: 'caller', subject, issuer: issuer.issuer, entries: [{ label: 'data:confidential', server: 'everything', target: 'get-env' }] });
    expect(Date.parse(obj.spec.expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000);

    // kubectl mcp explain --session decides with the recorded taint, and says so.
    const admin = adminClient();
    const profile = everythingProfile();
    await admin.apply({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name: profile.metadata.name! }, profile, 'session-tests');
    const policy = { ...a.policy, metadata: { namespace: ns, name: a.policy.metadata.name } };
    await admin.apply({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: policy.metadata.name }, policy, 'session-tests');
    const explainAs = (sub: string) => ['explain', '--policy', policy.metadata.name!, '-n', ns, '--server', 'everything', '--tool', 'echo', '--args', '{"message":"x"}', '--session', 'any-session', '--subject', sub, `--kubeconfig=${controlPlane().adminKubeconfig}`];
    const explain = explainAs(subject);
    const text = await kmcp(explain);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain('Session:');
    expect(text.out).toMatch(/taint: +data:confidential via everything\.get-env at /);
    expect(text.out).toMatch(/action: +deny/);
    expect(text.out).toContain('flow rule "no-exfiltration" denies this call');
    const json = await kmcp([...explain, '-o', 'json']);
    expect(JSON.parse(json.out)).toMatchObject({ action: 'deny', rule: 'no-exfiltration', session: { sink: true, constraint: { kind: 'flow', label: 'data:confidential' } } });
    // Another caller: nothing recorded, allowed.
    const clean = await kmcp([...explainAs(`clean-${randomUUID()}`), '-o', 'json']);
    expect(JSON.parse(clean.out)).toMatchObject({ action: 'allow', rule: 'allow-all' });
  });

  it('two replicas agree, a new session does not launder it, a restart does not forget it, another caller is not tainted', async () => {
    const policy = policyFor();
    const [a, b] = await Promise.all([replica(policy), replica(policy)]);
    const subject = `ha-${randomUUID()}`;
    const onA = await client(a, subject);
    expect((await onA.callTool({ name: 'get-env', arguments: {} })).isError).toBeFalsy();
    // Replica B never saw this caller: its sink decision reads the taint from the API server.
    const onB = await client(b, subject);
    expect((await refusal(onB.callTool({ name: 'echo', arguments: { message: 'via b' } }))).code).toBe(ErrorCodes.policyDenied);
    // A conversation id starts new session counters, not a clean taint.
    const conv = await refusal(onB.callTool({ name: 'echo', arguments: { message: 'new conversation' }, _meta: { [conversationMetaKey]: 'fresh-conversation' } }));
    expect(conv.code).toBe(ErrorCodes.policyDenied);
    // Replica A restarted (a new process: nothing cached).
    await a.close();
    const restarted = await replica(policy);
    const again = await client(restarted, subject);
    expect((await refusal(again.callTool({ name: 'echo', arguments: { message: 'after restart' } }))).message).toContain('via everything.get-env');
    // Another caller's sessions are clean.
    const other = await client(b, `other-${randomUUID()}`);
    expect((await other.callTool({ name: 'echo', arguments: { message: 'hello' } })).isError).toBeFalsy();
  });
});

describe('the API server', () => {
  it('refuses spec.session rules that hold calls without approvers, naming the field', async () => {
    const p = policyFor();
    p.metadata.namespace = ns;
    p.spec.session!.flows![0] = { ...p.spec.session!.flows![0]!, action: 'require_approval' };
    const err = await adminClient().apply({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: p.metadata.name }, p, 'session-tests').then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toContain('require_approval needs at least one approver group');
    expect(err?.message).toContain('spec.session.flows[0].approvers');
  });
});

describe('lapsed taint', () => {
  it('is ignored once expired and deleted by collect(), as the authorizer service account', async () => {
    const client = new KubeClient(kubeConfig);
    const key = sessionKeys({ issuer: 'https://issuer.test', subject: `lapsed-${randomUUID()}` }, 'S', undefined);
    const past = new KubeTaintStore({ client, namespace: systemNamespace, log, now: () => Date.now() - 120_000 });
    await past.add({ key: key.session, scope: 'session', ...key.scope }, [{ label: 'data:pii', server: 'mail', target: 'read', at: new Date(Date.now() - 120_000).toISOString(), decisionId: 'd' }], 60_000);
    const store = new KubeTaintStore({ client, namespace: systemNamespace, log });
    expect(await store.fresh(key.session)).toEqual([]);
    const live = sessionKeys({ issuer: 'https://issuer.test', subject: `live-${randomUUID()}` }, undefined, undefined);
    await store.add({ key: live.caller, scope: 'caller', ...live.scope }, [{ label: 'data:pii', server: 'mail', target: 'read', at: new Date().toISOString(), decisionId: 'd' }], 60_000);
    expect(await store.collect()).toBeGreaterThanOrEqual(1);
    const names = (await adminClient().list<McpSessionTaint>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsessiontaints', namespace: systemNamespace })).items.map((o) => o.metadata.name);
    expect(names).not.toContain(taintObjectName(key.session));
    expect(names).toContain(taintObjectName(live.caller));
  });
});
