// The whole path against the real control plane: the operator (in-process) compiles an
// McpSecurityPolicy applied with the real kubectl into a signed bundle; the authorizer
// (startAuthorizer, in-process) pulls it with a real service-account token (TokenRequest,
// checked by TokenReview), verifies it with the public key the operator published, and enforces
// it on both front ends: the official MCP SDK client through the proxy to the real "everything"
// server, and an ext_authz gRPC client built from the official Envoy protos. A policy change
// applied with kubectl reaches both front ends, and the policy status says so (Distributed).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { McpProfile, McpSecurityPolicy, Policy } from '../../api/v1alpha1/index.ts';
import { startAuthorizer, type RunningAuthorizer } from '../../authorizer/src/authorizer.ts';
import { authorizationClient, checkOnce, envoyCheckRequest, toolsCall } from '../support/extauthz.ts';
import { verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { ErrorCodes, type DecisionRecord } from '../../authorizer/src/gate/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { defaultPublicKeyConfigMap, startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { serviceAccountToken, tokenKubeConfig } from '../harness/accounts.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { controlPlane, kubectl, waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';
import { connectClient, rawPost, startEverything, startUpstreamTap, type EverythingServer, type UpstreamTap } from './proxy-support.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ns = `e2e-${randomBytes(3).toString('hex')}`;
const profileName = `everything-${ns}`;
const policyKey = `${ns}/agents`;
const audience = 'https://toolgate.e2e/mcp';
const upstreamSecret = 'upstream-credential-for-everything';

const kc = new KubeConfig();
kc.loadFromFile(controlPlane().adminKubeconfig);
const admin = new KubeClient(kc);
let operator: RunningOperator;
let authorizer: RunningAuthorizer;
let issuer: TestIssuer;
let everything: EverythingServer;
let tap: UpstreamTap;
let dir: string;
let grpc: ReturnType<typeof authorizationClient>;
let token: string;
let mcp: Client | undefined;
const decisions: DecisionRecord[] = [];

const sums = (action: Policy['action']): Policy => ({ name: 'sums', priority: 5, when: { tools: ['get-sum'] }, action });

function policy(sumsAction: Policy['action']): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: ns },
    spec: {
      servers: [{ name: 'everything', url: tap.url, credentials: { secretRef: { name: 'everything-upstream', key: 'token' } } }],
      profiles: [{ name: profileName, server: 'everything' }],
      policies: [sums(sumsAction), { name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

async function kubectlApply(obj: unknown): Promise<void> {
  const r = await kubectl(['apply', '--server-side', '--field-manager=e2e-test', '-f', '-'], { input: JSON.stringify(obj) });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

const getPolicy = () => admin.get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: 'agents' });
const condition = (p: McpSecurityPolicy, type: string) => p.status?.conditions?.find((c) => c.type === type);

/** The served revision once the operator compiled the current generation. */
async function compiledRevision(): Promise<string> {
  return waitFor(async () => {
    const p = await getPolicy();
    const c = condition(p, 'Compiled');
    return c?.status === 'True' && c.observedGeneration === p.metadata.generation ? p.status?.revision : undefined;
  }, { description: `policy ${policyKey} Compiled=True for its current generation`, timeoutMs: 30_000 });
}

const check = (tool: string, args: Record<string, unknown>, t = token) => checkOnce(grpc, envoyCheckRequest({
  server: 'everything', body: toolsCall(tool, args), headers: { authorization: `Bearer ${t}` },
}));

function denialOf(res: Awaited<ReturnType<typeof check>>) {
  expect(res.ok_response).toBeUndefined();
  return JSON.parse(res.denied_response!.body) as { error: { code: number; message: string; data?: { rule?: string; revision?: string; reasons?: string[] } } };
}

async function proxyCall(name: string, args: Record<string, unknown>): Promise<{ ok: true; result: unknown } | { ok: false; error: McpError }> {
  try {
    return { ok: true, result: await mcp!.callTool({ name, arguments: args }) };
  } catch (err) {
    if (err instanceof McpError) return { ok: false, error: err };
    throw err;
  }
}

const lastDecision = (frontEnd: 'ext_authz' | 'proxy', tool: string) => decisions.filter((d) => d.call.frontEnd === frontEnd && d.call.tool === tool).at(-1);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolgate-e2e-'));
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const core = { group: '', version: 'v1', namespace: ns };
  const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', namespace: ns };
  await admin.create({ ...core, plural: 'serviceaccounts' }, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'authorizer' } });
  await admin.create({ ...core, plural: 'secrets' }, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'everything-upstream' }, stringData: { token: upstreamSecret } });
  // What config/authorizer grants in its namespace, plus the one upstream Secret the policy names.
  await admin.create({ ...rbac, plural: 'roles' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'authorizer' },
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'patch', 'update', 'delete'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['everything-upstream'], verbs: ['get'] },
    ],
  });
  await admin.create({ ...rbac, plural: 'rolebindings' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'authorizer' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'authorizer' },
    subjects: [{ kind: 'ServiceAccount', name: 'authorizer', namespace: ns }],
  });
  const saToken = await serviceAccountToken(admin, ns, 'authorizer');
  await writeFile(join(dir, 'token'), saToken, { mode: 0o600 });

  operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'e2e', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: operatorBundles({ allow: [`system:serviceaccount:${ns}:authorizer`] }),
  });
  const cm = await waitFor(() => admin.get<{ data?: Record<string, string> }>({ ...core, plural: 'configmaps', name: defaultPublicKeyConfigMap }),
    { description: `ConfigMap ${defaultPublicKeyConfigMap}`, timeoutMs: 30_000 });

  issuer = await startJwtIssuer({ audience });
  token = await issuer.mint({ sub: 'alice', azp: 'agent-1' });
  everything = await startEverything();
  tap = await startUpstreamTap(everything.url);
  const profile = parse(readFileSync(join(import.meta.dirname, '../../profiles/everything.yaml'), 'utf8')) as McpProfile;
  await kubectlApply({ ...profile, metadata: { ...profile.metadata, name: profileName } });

  // The authorizer starts before its policy exists: it must refuse everything until the bundle loads.
  const authorizerKc = tokenKubeConfig(controlPlane(), 'authorizer', saToken);
  authorizer = await startAuthorizer({
    kubeConfig: authorizerKc, namespace: ns, podName: 'authorizer-0', bundleService: operator.bundleServer.url, policies: [policyKey],
    tokenPath: join(dir, 'token'),
    verification: { publicKeyPem: cm.data!['public.pem']!, keyId: cm.data!['key-id']!, algorithm: cm.data!.algorithm! },
    extAuthz: { port: 0, host: '127.0.0.1' },
    proxy: { port: 0, host: '127.0.0.1', allowedOrigins: [] },
    probePort: 0, probeHost: '127.0.0.1',
    reportRevisions: true,
    bundles: { waitSeconds: 20, backoff: { initialMs: 100, maxMs: 500 } },
    onDecision: (d) => decisions.push(d),
    audit: { file: join(dir, 'audit.jsonl'), fsync: false },
    log,
  });
  grpc = authorizationClient(authorizer.extAuthz!.port);
}, 120_000);

afterAll(async () => {
  await mcp?.close().catch(() => undefined);
  grpc?.close();
  await authorizer?.stop();
  await operator?.stop();
  await Promise.all([everything?.close(), tap?.close(), issuer?.close()]);
  await kubectl(['delete', 'mcpprofile', profileName, '--ignore-not-found']);
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('end to end: kubectl apply → operator → bundle → authorizer → both front ends', () => {
  it('fails closed before the first bundle: not ready, every call refused as unavailable', async () => {
    const probe = `http://127.0.0.1:${authorizer.probe.port}`;
    const readyz = await fetch(`${probe}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toContain(`waiting for bundle(s) ${policyKey}`);
    expect((await fetch(`${probe}/healthz`)).status).toBe(200);

    const viaEnvoy = denialOf(await check('echo', { message: 'hi' }));
    expect(viaEnvoy.error.code).toBe(ErrorCodes.policyUnavailable);
    expect(viaEnvoy.error.message).toContain('policy unavailable');

    const viaProxy = await rawPost(authorizer.proxy!.url, toolsCall('echo', { message: 'hi' }), { authorization: `Bearer ${token}` });
    // Both front ends answer it the same way: 503, Retry-After and the JSON-RPC error.
    expect(viaProxy.status).toBe(503);
    expect(viaProxy.headers.get('retry-after')).toBe('5');
    expect(await viaProxy.json()).toMatchObject({ error: { code: viaEnvoy.error.code, message: viaEnvoy.error.message } });
    expect(authorizer.ready()).toBe(false);
  });

  it('loads the policy applied with kubectl and becomes ready at the served revision', async () => {
    await kubectlApply(policy('deny'));
    const revision = await compiledRevision();
    await waitFor(() => authorizer.revisions()[policyKey] === revision, { description: `authorizer at revision ${revision}`, timeoutMs: 30_000 });
    const readyz = await fetch(`http://127.0.0.1:${authorizer.probe.port}/readyz`);
    expect(readyz.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${authorizer.probe.port}/metrics`)).text();
    expect(metrics).toContain(`toolgate_authorizer_bundle_info{bundle="${policyKey}",revision="${revision}"} 1`);
    // RFC 9728 metadata for the policy's audience, on the proxy's port.
    const meta = await fetch(`http://127.0.0.1:${authorizer.proxy!.port}/.well-known/oauth-protected-resource/mcp`);
    expect(await meta.json()).toMatchObject({ resource: audience, authorization_servers: [issuer.issuer] });
  });

  it('allows a read-only call with the real result, upstream credential injected, client token withheld', async () => {
    ({ client: mcp } = await connectClient(authorizer.proxy!.url, token));
    const tools = (await mcp.listTools()).tools.map((t) => t.name);
    expect(tools).toContain('echo');
    expect(tools).not.toContain('get-sum');

    const result = await proxyCall('echo', { message: 'hello e2e' });
    expect(result).toMatchObject({ ok: true, result: { content: [{ type: 'text', text: 'Echo: hello e2e' }] } });
    expect(tap.seen.length).toBeGreaterThan(0);
    expect(tap.seen.map((h) => h.authorization)).toEqual(tap.seen.map(() => `Bearer ${upstreamSecret}`));
    expect(JSON.stringify(tap.seen)).not.toContain(token);

    const allowed = await check('echo', { message: 'hello e2e' });
    expect(allowed.status.code).toBe(0);
    expect(allowed.ok_response!.headers_to_remove).toContain('authorization');
  });

  it('refuses a tool the policy denies identically through both front ends', async () => {
    const revision = authorizer.revisions()[policyKey];
    const viaEnvoy = denialOf(await check('get-sum', { a: 1, b: 2 }));
    const viaProxy = await proxyCall('get-sum', { a: 1, b: 2 });
    if (viaProxy.ok) throw new Error('the proxy let a denied call through');
    expect(viaEnvoy.error.code).toBe(ErrorCodes.policyDenied);
    expect(viaProxy.error.code).toBe(viaEnvoy.error.code);
    const fromProxy = viaProxy.error.data as { rule: string; revision: string; reasons: string[] };
    expect(viaEnvoy.error.data).toMatchObject({ rule: 'sums', revision });
    expect(fromProxy).toMatchObject({ rule: viaEnvoy.error.data!.rule, revision: viaEnvoy.error.data!.revision, reasons: viaEnvoy.error.data!.reasons });
    expect(lastDecision('ext_authz', 'get-sum')?.verdict.decision.action).toBe('deny');
    expect(lastDecision('proxy', 'get-sum')?.verdict.decision.action).toBe('deny');
  });

  it('enforces a policy change applied with kubectl on both front ends, and reports it in the status', async () => {
    const before = authorizer.revisions()[policyKey]!;
    await kubectlApply(policy('allow'));
    const revision = await compiledRevision();
    expect(revision).not.toBe(before);

    await waitFor(async () => (await check('get-sum', { a: 2, b: 3 })).status.code === 0, { description: 'ext_authz to allow get-sum', timeoutMs: 30_000 });
    const viaProxy = await waitFor(async () => {
      const r = await proxyCall('get-sum', { a: 2, b: 3 });
      return r.ok ? r : undefined;
    }, { description: 'the proxy to allow get-sum', timeoutMs: 30_000 });
    expect(JSON.stringify(viaProxy.result)).toContain('The sum of 2 and 3 is 5');
    // Same decision, same rule, same revision through both.
    for (const frontEnd of ['ext_authz', 'proxy'] as const) {
      expect(lastDecision(frontEnd, 'get-sum')?.verdict).toMatchObject({ revision, effect: 'proceed', decision: { action: 'allow', rule: 'sums' } });
    }
    // The listing follows the new revision too.
    expect((await mcp!.listTools()).tools.map((t) => t.name)).toContain('get-sum');

    const distributed = await waitFor(async () => {
      const c = condition(await getPolicy(), 'Distributed');
      return c?.status === 'True' && c.message.includes(revision) ? c : undefined;
    }, { description: `Distributed=True at revision ${revision}`, timeoutMs: 30_000 });
    expect(distributed.message).toBe(`1/1 authorizers at revision ${revision}`);
  });

  it('stops gracefully: front ends closed and the revision Lease deleted', async () => {
    const lease = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: ns, name: authorizer.reporter!.leaseName };
    expect((await admin.get<{ metadata: { annotations?: Record<string, string> } }>(lease)).metadata.annotations?.['toolgate.io/bundle-revisions']).toContain(policyKey);
    await mcp?.close();
    mcp = undefined;
    await authorizer.stop();
    await expect(admin.get(lease)).rejects.toMatchObject({ code: 404 });
    await expect(fetch(`http://127.0.0.1:${authorizer.probe.port}/healthz`)).rejects.toThrow();
  });

  it('left one verified audit record per decision and per refusal, through both front ends, in order', async () => {
    const audit = join(dir, 'audit.jsonl');
    const all = readFileSync(audit, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as { type: string; decisionId?: string; frontEnd: string; stage?: string; httpStatus?: number });
    expect(await verifyAuditFile(audit)).toMatchObject({ ok: true, records: all.length });
    const records = all.filter((r) => r.type === 'decision');
    expect(records.map((r) => r.decisionId)).toEqual(decisions.map((d) => d.verdict.decisionId));
    expect(new Set(records.map((r) => r.frontEnd))).toEqual(new Set(['ext_authz', 'proxy']));
    // Refusals too: the calls refused before the first bundle, and each denial, from both front ends.
    const refusals = all.filter((r) => r.type === 'refusal');
    expect(refusals.filter((r) => r.stage === 'transport' && r.httpStatus === 503).map((r) => r.frontEnd).sort()).toEqual(['ext_authz', 'proxy']);
    const denied = decisions.filter((d) => d.verdict.effect !== 'proceed').map((d) => d.verdict.decisionId);
    expect(refusals.filter((r) => r.stage === 'decision').map((r) => r.decisionId).sort()).toEqual([...denied].sort());
    expect(readFileSync(audit, 'utf8')).not.toContain(token);
  });
});
