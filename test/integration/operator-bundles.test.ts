// The operator's bundle side against the real API server: a policy becomes a served, signed
// bundle whose revision and counts land in its status (Compiled); a broken edit keeps the last
// good bundle in service and says so; authorizer Leases drive the Distributed condition; a
// deleted policy stops being served.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { authorizerLeaseLabel, bundleRevisionsAnnotation, type Condition, type McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { openBundle } from '../../operator/src/bundle/index.ts';
import { KubeClient, microTime } from '../../pkg/kube/client.ts';
import { defaultPublicKeyConfigMap, startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { serviceAccountToken } from '../harness/accounts.ts';
import { waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';

const env = inject('controlPlane');
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ns = `op-bundles-${randomBytes(3).toString('hex')}`;
const kc = new KubeConfig();
kc.loadFromFile(env.adminKubeconfig);
const admin = new KubeClient(kc);
const policies = { group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns };
const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: ns };
let operator: RunningOperator;
let token: string;

const condition = (p: McpSecurityPolicy, type: string): Condition | undefined => p.status?.conditions?.find((c) => c.type === type);
const get = (name: string) => admin.get<McpSecurityPolicy>({ ...policies, name });

function policy(name: string, rules: McpSecurityPolicy['spec']['policies']): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name, namespace: ns },
    spec: {
      servers: [{ name: 'files', url: 'http://files.mcp.svc:8080/mcp' }],
      toolOverrides: [{ server: 'files', tool: 'read_file', readOnlyHint: true, verb: 'get' }],
      policies: rules,
    },
  };
}
const readOnly: McpSecurityPolicy['spec']['policies'] = [{ name: 'allow-read-only', priority: 10, when: { readOnlyHint: true }, action: 'allow' }];

async function authorizerLease(pod: string, revisions: Record<string, string>): Promise<void> {
  await admin.apply({ ...leases, name: `toolgate-authorizer-${pod}` }, {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: `toolgate-authorizer-${pod}`, namespace: ns, labels: { [authorizerLeaseLabel]: 'true' }, annotations: { [bundleRevisionsAnnotation]: JSON.stringify(revisions) } },
    spec: { holderIdentity: pod, leaseDurationSeconds: 30, renewTime: microTime() },
  }, 'test-authorizer');
}

beforeAll(async () => {
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  token = await serviceAccountToken(admin, ns, 'authorizer');
  operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'bundles', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: operatorBundles({ allow: [`system:serviceaccount:${ns}:authorizer`] }),
  });
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
});

describe('operator bundles', () => {
  it('compiles a policy into a signed bundle and reports revision and counts', async () => {
    await admin.create(policies, policy('files', readOnly));
    const p = await waitFor(async () => {
      const got = await get('files');
      return condition(got, 'Compiled')?.status === 'True' ? got : undefined;
    }, { description: 'Compiled=True', timeoutMs: 20_000 });
    expect(condition(p, 'Compiled')).toMatchObject({ reason: 'Compiled', observedGeneration: p.metadata.generation });
    expect(condition(p, 'Ready')?.status).toBe('True');
    expect(p.status?.revision).toMatch(/^[0-9a-f]{16,}$/);
    expect(p.status?.counts).toEqual({ servers: 1, tools: 1, policies: 1, classifiers: 0 });
    // No authorizer reports yet.
    expect(condition(p, 'Distributed')).toMatchObject({ status: 'False', reason: 'NoAuthorizers' });

    const res = await fetch(`${operator.bundleServer.url}/bundles/${ns}/files`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${p.status?.revision}"`);
    const cm = await admin.get<{ data: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: ns, name: defaultPublicKeyConfigMap });
    const opened = await openBundle(Buffer.from(await res.arrayBuffer()), { verify: { keys: { [cm.data['key-id']!]: { key: cm.data['public.pem']!, algorithm: cm.data.algorithm! } } } });
    expect(opened.manifest.revision).toBe(p.status?.revision);
    expect(opened.data).toMatchObject({ toolgate: { gateway: { policy: { namespace: ns, name: 'files' }, servers: [{ name: 'files' }] } } });
  });

  it('keeps serving the last good bundle when an edit breaks the policy, and says so', async () => {
    const good = (await get('files')).status!.revision!;
    const broken = await get('files');
    broken.spec.policies = [...readOnly, { name: 'deny-unknown-server', priority: 5, when: { servers: ['nowhere'] }, action: 'deny' }];
    await admin.replace({ ...policies, name: 'files' }, broken);
    const p = await waitFor(async () => {
      const got = await get('files');
      return condition(got, 'Compiled')?.status === 'False' && got.status?.observedGeneration === got.metadata.generation ? got : undefined;
    }, { description: 'Compiled=False after the broken edit', timeoutMs: 20_000 });
    expect(condition(p, 'Compiled')?.reason).toBe('InvalidPolicy');
    expect(condition(p, 'Compiled')?.message).toContain(`last good revision ${good}`);
    expect(condition(p, 'Ready')?.status).toBe('False');
    expect(p.status?.revision).toBe(good);
    expect(p.status?.problems?.[0]?.field).toMatch(/^spec\.policies\[1\]\.when\.servers/);
    expect(operator.store.get(`${ns}/files`)?.revision).toBe(good);

    // Fixing it compiles again; an equivalent spec gives the same revision back.
    const fixed = await get('files');
    fixed.spec.policies = readOnly;
    await admin.replace({ ...policies, name: 'files' }, fixed);
    const again = await waitFor(async () => {
      const got = await get('files');
      return condition(got, 'Compiled')?.status === 'True' && got.status?.observedGeneration === got.metadata.generation ? got : undefined;
    }, { description: 'Compiled=True after the fix', timeoutMs: 20_000 });
    expect(again.status?.revision).toBe(good);
  });

  it('aggregates authorizer Leases into the Distributed condition', async () => {
    const revision = (await get('files')).status!.revision!;
    await authorizerLease('a', { [`${ns}/files`]: revision });
    await authorizerLease('b', { [`${ns}/files`]: 'stale-revision' });
    const rolling = await waitFor(async () => {
      const c = condition(await get('files'), 'Distributed');
      return c?.reason === 'RolloutInProgress' ? c : undefined;
    }, { description: 'Distributed=RolloutInProgress', timeoutMs: 20_000 });
    expect(rolling.message).toContain(`1/2 authorizers at revision ${revision}`);
    expect(rolling.message).toContain(`${ns}/b`);

    await authorizerLease('b', { [`${ns}/files`]: revision });
    const done = await waitFor(async () => {
      const c = condition(await get('files'), 'Distributed');
      return c?.status === 'True' ? c : undefined;
    }, { description: 'Distributed=True', timeoutMs: 20_000 });
    expect(done).toMatchObject({ reason: 'AllAuthorizersCurrent', message: `2/2 authorizers at revision ${revision}` });
  });

  it('stops serving the bundle of a deleted policy', async () => {
    await admin.delete({ ...policies, name: 'files' });
    await waitFor(() => operator.store.get(`${ns}/files`) === undefined, { description: 'the bundle to be dropped', timeoutMs: 20_000 });
    const res = await fetch(`${operator.bundleServer.url}/bundles/${ns}/files`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
  });
});
