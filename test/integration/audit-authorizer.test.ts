// The audit trail as the real authorizer entry writes it (compliance rows A3, A4, A6, A13): the
// operator (in-process) compiles an McpSecurityPolicy applied with the real kubectl into a signed
// bundle; startAuthorizer pulls it with a real service-account token and serves the MCP proxy; the
// official SDK client calls through it to the real "everything" server. The trail file the
// authorizer wrote then holds, per call, the decision with the scopes the tool required and the
// token carried, the stated purpose, the fields the policy marks personal redacted whole, and a
// response line naming the decision; the chain verifies.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { startAuthorizer, type RunningAuthorizer } from '../../authorizer/src/authorizer.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { defaultPublicKeyConfigMap, startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { serviceAccountToken, tokenKubeConfig } from '../harness/accounts.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { controlPlane, kubectl, waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';
import { connectClient, startEverything, type EverythingServer } from './proxy-support.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ns = `audit-${randomBytes(3).toString('hex')}`;
const profileName = `everything-${ns}`;
const audience = 'https://toolgate.audit/mcp';

const kc = new KubeConfig();
kc.loadFromFile(controlPlane().adminKubeconfig);
const admin = new KubeClient(kc);
let operator: RunningOperator;
let authorizer: RunningAuthorizer;
let issuer: TestIssuer;
let everything: EverythingServer;
let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolgate-audit-authorizer-'));
  file = join(dir, 'audit', 'audit.jsonl');
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const core = { group: '', version: 'v1', namespace: ns };
  const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', namespace: ns };
  await admin.create({ ...core, plural: 'serviceaccounts' }, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'authorizer' } });
  await admin.create({ ...rbac, plural: 'roles' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'authorizer' },
    rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'patch', 'update', 'delete'] }],
  });
  await admin.create({ ...rbac, plural: 'rolebindings' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'authorizer' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'authorizer' },
    subjects: [{ kind: 'ServiceAccount', name: 'authorizer', namespace: ns }],
  });
  const saToken = await serviceAccountToken(admin, ns, 'authorizer');
  await writeFile(join(dir, 'token'), saToken, { mode: 0o600 });
  operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'audit', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: operatorBundles({ allow: [`system:serviceaccount:${ns}:authorizer`] }),
  });
  const cm = await waitFor(() => admin.get<{ data?: Record<string, string> }>({ ...core, plural: 'configmaps', name: defaultPublicKeyConfigMap }),
    { description: `ConfigMap ${defaultPublicKeyConfigMap}`, timeoutMs: 30_000 });
  issuer = await startJwtIssuer({ audience });
  everything = await startEverything();
  const profile = parse(readFileSync(join(import.meta.dirname, '../../profiles/everything.yaml'), 'utf8')) as McpProfile;
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: ns },
    spec: {
      servers: [{ name: 'everything', url: everything.url }],
      profiles: [{ name: profileName, server: 'everything' }],
      toolOverrides: [{ server: 'everything', tool: 'get-sum', scopes: ['math:sum'] }, { server: 'everything', tool: 'echo', personalFields: ['message'] }],
      policies: [{ name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  for (const obj of [{ ...profile, metadata: { ...profile.metadata, name: profileName } }, policy]) {
    const r = await kubectl(['apply', '--server-side', '--field-manager=audit-test', '-f', '-'], { input: JSON.stringify(obj) });
    if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
  }
  authorizer = await startAuthorizer({
    kubeConfig: tokenKubeConfig(controlPlane(), 'authorizer', saToken), namespace: ns, podName: 'authorizer-audit-0', bundleService: operator.bundleServer.url, policies: [`${ns}/agents`],
    tokenPath: join(dir, 'token'),
    verification: { publicKeyPem: cm.data!['public.pem']!, keyId: cm.data!['key-id']!, algorithm: cm.data!.algorithm! },
    proxy: { port: 0, host: '127.0.0.1', allowedOrigins: [] },
    probePort: 0, probeHost: '127.0.0.1',
    reportRevisions: false,
    bundles: { waitSeconds: 20, backoff: { initialMs: 100, maxMs: 500 } },
    audit: { file, fsync: false },
    log,
  });
  await waitFor(() => (authorizer.ready() ? true : undefined), { description: 'the authorizer loaded its bundle', timeoutMs: 60_000 });
}, 180_000);

afterAll(async () => {
  await authorizer?.stop();
  await operator?.stop();
  await Promise.all([everything?.close(), issuer?.close()]);
  await kubectl(['delete', 'mcpprofile', profileName, '--ignore-not-found']);
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Line = Record<string, unknown>;

describe('the audit trail startAuthorizer writes', () => {
  it('holds scopes, purpose, personal fields redacted and a response per relayed call, and verifies', async () => {
    const { client } = await connectClient(authorizer.proxy!.url, await issuer.mint({ sub: 'alice', azp: 'agent-1', scope: 'math:sum other:scope' }));
    try {
      const echoed = await client.callTool({ name: 'echo', arguments: { message: 'Zebedee Quorn, flat 4' }, _meta: { 'toolgate.io/purpose': 'support ticket 99' } });
      expect(JSON.stringify(echoed.content)).toContain('Zebedee Quorn');
      const summed = await client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } });
      expect(JSON.stringify(summed.content)).toContain('42');
    } finally {
      await client.close();
    }
    await authorizer.audit!.flush();
    const text = readFileSync(file, 'utf8');
    const all = text.split('\n').slice(1, -1).map((l) => JSON.parse(l) as Line);
    const decisions = all.filter((l) => l.type === 'decision' && (l.tool === 'echo' || l.tool === 'get-sum'));
    expect(decisions.map((d) => [d.tool, d.action])).toEqual([['echo', 'allow'], ['get-sum', 'allow']]);
    expect(decisions[0]).toMatchObject({ purpose: 'support ticket 99', arguments: { message: '[REDACTED:personal-field]' }, scopes: { required: [], used: [] }, policy: `${ns}/agents` });
    expect(decisions[1]).toMatchObject({ scopes: { required: ['math:sum'], used: ['math:sum'] }, arguments: { a: 20, b: 22 } });
    const responses = all.filter((l) => l.type === 'response');
    expect(responses.map((r) => [r.decisionId, r.tool, r.status])).toEqual(decisions.map((d) => [d.decisionId, d.tool, 'success']));
    expect(String(responses[1]?.outcome)).toContain('42');
    // The open line names the pod as the chain's instance.
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ type: 'open', instance: 'authorizer-audit-0' });
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true });
  });
});
