// Argo CD health for toolgate's kinds: the Lua in config/argocd/health, run by gopher-lua (the
// interpreter Argo CD embeds, with the libraries Argo CD opens) against objects read from the real
// API server in each state the operator and the approval flow put them in.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { authorizerLeaseLabel, bundleRevisionsAnnotation, type ApprovalRequest, type ApprovalRequestStatus, type McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { KubeClient, microTime } from '../../pkg/kube/client.ts';
import { startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { binary } from '../harness/controlplane.ts';
import { aPolicy, aProfile, anApprovalRequest, controlPlane, waitFor, withNamespace } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';

const run = promisify(execFile);
const healthDir = new URL('../../config/argocd/health/', import.meta.url);
const kinds = ['McpSecurityPolicy', 'McpProfile', 'ApprovalRequest'] as const;
type Health = { status: 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown'; message: string };

const ns = withNamespace('argo');
const unwatched = withNamespace('argo-unwatched');
const kc = new KubeConfig();
kc.loadFromFile(controlPlane().adminKubeconfig);
const admin = new KubeClient(kc);
const policies = (namespace = ns) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace });
// In a namespace no operator watches: the statuses written here stay as written (the approval
// controller would re-derive a phase no recorded decision backs).
const requests = { group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: unwatched };
let operator: RunningOperator;

async function health(kind: (typeof kinds)[number], obj: unknown): Promise<Health> {
  const child = run(await binary('argocd-health'), [new URL(`toolgate.io_${kind}.lua`, healthDir).pathname], { timeout: 10_000 });
  child.child.stdin!.end(JSON.stringify(obj));
  return JSON.parse((await child).stdout) as Health;
}

const getPolicy = (name: string) => admin.get<McpSecurityPolicy>({ ...policies(), name });

async function lease(pod: string, revisions: Record<string, string>): Promise<void> {
  const ref = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: ns, name: `toolgate-authorizer-${pod}` };
  await admin.apply(ref, {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: ref.name, namespace: ns, labels: { [authorizerLeaseLabel]: 'true' }, annotations: { [bundleRevisionsAnnotation]: JSON.stringify(revisions) } },
    spec: { holderIdentity: pod, leaseDurationSeconds: 60, renewTime: microTime() },
  }, 'test-authorizer');
}

beforeAll(async () => {
  operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: `argo-${randomBytes(2).toString('hex')}`, probePort: 0, probeHost: '127.0.0.1',
    log: pino({ level: 'silent' }), bundles: operatorBundles(),
  });
}, 60_000);
afterAll(async () => {
  await operator?.stop();
});

describe('argocd-cm', () => {
  it('embeds exactly the scripts in config/argocd/health', async () => {
    const cm = parse(await readFile(new URL('../argocd-cm.yaml', healthDir), 'utf8')) as { data: Record<string, string> };
    expect(Object.keys(cm.data).sort()).toEqual(kinds.map((k) => `resource.customizations.health.toolgate.io_${k}`).sort());
    for (const k of kinds) expect(cm.data[`resource.customizations.health.toolgate.io_${k}`]).toBe(await readFile(new URL(`toolgate.io_${k}.lua`, healthDir), 'utf8'));
  });
});

describe('McpSecurityPolicy health', () => {
  const good = aPolicy('files').inNamespace(ns).withServer('files').withDefaultAction('deny')
    .withToolOverride({ server: 'files', tool: 'read_file', readOnlyHint: true, verb: 'get' })
    .withPolicy({ name: 'allow-read', priority: 10, when: { readOnlyHint: true }, action: 'allow' }).build();

  it('is Progressing while no operator has compiled it', async () => {
    await admin.create(policies(unwatched), { ...good, metadata: { name: 'files', namespace: unwatched } });
    const h = await health('McpSecurityPolicy', await admin.get({ ...policies(unwatched), name: 'files' }));
    expect(h).toEqual({ status: 'Progressing', message: 'waiting for the toolgate operator to compile generation 1' });
  });

  it('follows the rollout to the authorizers: Progressing until every reporting one enforces the revision, then Healthy', async () => {
    await admin.create(policies(), good);
    const compiled = await waitFor(async () => {
      const p = await getPolicy('files');
      return p.status?.revision && p.status.conditions?.some((c) => c.type === 'Distributed') ? p : undefined;
    }, { description: 'Compiled with a Distributed condition', timeoutMs: 30_000 });
    const revision = compiled.status!.revision!;
    expect(await health('McpSecurityPolicy', compiled)).toMatchObject({ status: 'Progressing', message: expect.stringMatching(/authorizer/i) });

    await lease('a', { [`${ns}/files`]: revision });
    await lease('b', { [`${ns}/files`]: 'stale' });
    const rolling = await waitFor(async () => {
      const p = await getPolicy('files');
      return p.status?.conditions?.find((c) => c.type === 'Distributed')?.reason === 'RolloutInProgress' ? p : undefined;
    }, { description: 'RolloutInProgress', timeoutMs: 30_000 });
    expect(await health('McpSecurityPolicy', rolling)).toEqual({ status: 'Progressing', message: `1/2 authorizers at revision ${revision}; behind: ${ns}/b` });

    await lease('b', { [`${ns}/files`]: revision });
    const done = await waitFor(async () => {
      const p = await getPolicy('files');
      return p.status?.conditions?.find((c) => c.type === 'Distributed')?.status === 'True' ? p : undefined;
    }, { description: 'Distributed=True', timeoutMs: 30_000 });
    expect(await health('McpSecurityPolicy', done)).toEqual({ status: 'Healthy', message: `2/2 authorizers at revision ${revision}` });
  });

  it('is Degraded while an edit is invalid, naming the last good revision authorizers keep', async () => {
    const before = await getPolicy('files');
    const broken = structuredClone(before);
    broken.spec.policies = [...broken.spec.policies, { name: 'deny-nowhere', priority: 5, when: { servers: ['nowhere'] }, action: 'deny' }];
    await admin.replace({ ...policies(), name: 'files' }, broken);
    const p = await waitFor(async () => {
      const got = await getPolicy('files');
      return got.status?.observedGeneration === got.metadata.generation && got.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'False' ? got : undefined;
    }, { description: 'Ready=False after the broken edit', timeoutMs: 30_000 });
    const h = await health('McpSecurityPolicy', p);
    expect(h.status).toBe('Degraded');
    expect(h.message).toContain('nowhere');
    expect(p.status?.conditions?.find((c) => c.type === 'Compiled')?.message).toContain(`last good revision ${before.status!.revision}`);
  });
});

describe('McpProfile health', () => {
  it('is Healthy and says what the profile holds (a profile has no status of its own)', async () => {
    const name = `argo-${randomBytes(3).toString('hex')}`;
    await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles' }, aProfile(name).forService('files').withVersion('2.1.0')
      .withTool({ name: 'read_file', readOnlyHint: true, verb: 'get' }).withTool({ name: 'write_file', readOnlyHint: false, verb: 'update' }).build());
    try {
      const h = await health('McpProfile', await admin.get({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name }));
      expect(h).toEqual({ status: 'Healthy', message: 'profile files 2.1.0: 2 tools' });
    } finally {
      await admin.delete({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name }).catch(() => undefined);
    }
  });
});

describe('ApprovalRequest health', () => {
  async function request(name: string, status?: ApprovalRequestStatus): Promise<ApprovalRequest> {
    const created = await admin.create<ApprovalRequest>(requests, anApprovalRequest(name).inNamespace(unwatched).withApprovers(['mail-approvers'], 2).build());
    if (status) await admin.replace({ ...requests, name, subresource: 'status' }, { ...created, status }, 'toolgate-operator');
    return admin.get<ApprovalRequest>({ ...requests, name });
  }
  const decision = { user: 'ann', groups: ['mail-approvers'], decision: 'approve' as const, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };

  it('Pending is Suspended, counting approvals against the quorum', async () => {
    const r = await request('pending', { phase: 'Pending', decisions: [decision] });
    const h = await health('ApprovalRequest', r);
    expect(h).toEqual({ status: 'Suspended', message: `gmail/send_email (rule approve-external-communication): 1/2 approvals from mail-approvers; expires ${r.spec.expiresAt}` });
  });

  it('Approved is Progressing, Consumed and Superseded are Healthy, Denied and Expired are Degraded', async () => {
    const cases: Array<[ApprovalRequestStatus, Health['status'], RegExp]> = [
      [{ phase: 'Approved' }, 'Progressing', /approved, waiting for the authorizer/],
      [{ phase: 'Consumed', consumedBy: 'toolgate-authorizer-0' }, 'Healthy', /released once by toolgate-authorizer-0/],
      [{ phase: 'Superseded' }, 'Healthy', /superseded/],
      [{ phase: 'Denied' }, 'Degraded', /denied, the call did not run/],
      [{ phase: 'Expired' }, 'Degraded', /expired unapproved, the call did not run/],
    ];
    for (const [status, expected, message] of cases) {
      const h = await health('ApprovalRequest', await request(status.phase!.toLowerCase(), status));
      expect(h.status, status.phase).toBe(expected);
      expect(h.message).toMatch(message);
    }
  });

  it('a request without status (just created) is Suspended', async () => {
    expect((await health('ApprovalRequest', await request('fresh'))).status).toBe('Suspended');
  });
});
