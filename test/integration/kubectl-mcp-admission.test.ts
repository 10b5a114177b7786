// `kubectl mcp approve` under the shipped ValidatingAdmissionPolicy (config/admission), bound to
// this file's namespace only: the plugin's write passes (the user and groups it records are the
// ones the API server authenticated), and the server's refusals reach the user verbatim.
import { serviceAccountKubeConfig } from '../harness/accounts.ts';
import { bindApprovalAdmission } from '../harness/admission.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { KubeClient, KubeError } from '../../pkg/kube/client.ts';
import { anApprovalRequest, controlPlane, mintUser, uniqueName } from '../harness/kube.ts';
import { kubectlMcp } from '../harness/kubectl-plugin.ts';

const ns = uniqueName('kmcp-adm');
let unbind: (() => Promise<void>) | undefined;
const approvers = `approvers-${ns.slice(-6)}`;
const clientOf = (kubeconfig: string | KubeConfig) => {
  if (kubeconfig instanceof KubeConfig) return new KubeClient(kubeconfig);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return new KubeClient(kc);
};
const admin = clientOf(controlPlane().adminKubeconfig);
const ar = (name?: string, subresource?: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) });
const rbac = (plural: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, namespace: ns });
const users = { alice: '', carol: '', victor: '' };
let authorizer: KubeClient;

const serviceAccountClient = async (name: string) => clientOf(await serviceAccountKubeConfig(admin, controlPlane(), 'toolgate-system', name));

beforeAll(async () => {
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // The authorizer identity the shipped policy trusts, shared by the test files.
  await admin.apply({ group: '', version: 'v1', plural: 'namespaces', name: 'toolgate-system' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'toolgate-system' } }, 'toolgate-test');
  await admin.apply({ group: '', version: 'v1', plural: 'serviceaccounts', namespace: 'toolgate-system', name: 'toolgate-authorizer' },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'toolgate-authorizer', namespace: 'toolgate-system' } }, 'toolgate-test');
  const role = (name: string, rules: object[], subject: object) => Promise.all([
    admin.create(rbac('roles'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name }, rules }),
    admin.create(rbac('rolebindings'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [subject] }),
  ]);
  await role('authorizer', [{ apiGroups: ['toolgate.io'], resources: ['approvalrequests'], verbs: ['create', 'get'] }], { kind: 'ServiceAccount', name: 'toolgate-authorizer', namespace: 'toolgate-system' });
  await role('people', [
    { apiGroups: ['toolgate.io'], resources: ['approvalrequests'], verbs: ['get', 'list'] },
    { apiGroups: ['toolgate.io'], resources: ['approvalrequests/status'], verbs: ['get', 'update'] },
  ], { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' });
  authorizer = await serviceAccountClient('toolgate-authorizer');
  [users.alice, users.carol, users.victor] = await Promise.all([mintUser('alice', [approvers]), mintUser('carol', [approvers]), mintUser('victor', ['viewers'])]);
  unbind = await bindApprovalAdmission(admin, ns, 'toolgate-test');
}, 60_000);

afterAll(async () => {
  await unbind?.();
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
});

/** Held by the authorizer, as in production: requested by agent-1 on behalf of carol. */
const hold = (name: string) => authorizer.create<ApprovalRequest>(ar(), anApprovalRequest(name).inNamespace(ns).requestedBy('agent-1', 'carol').withApprovers([approvers]).build());

/** The refusal the API server gives `kubeconfig` for the decision the plugin would append. */
async function directRefusal(kubeconfig: string, name: string, user: string, groups: string[]): Promise<KubeError> {
  const client = clientOf(kubeconfig);
  const cur = await client.get<ApprovalRequest>(ar(name));
  const decision = { user, groups, decision: 'approve' as const, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  const err = await client.replace(ar(name, 'status'), { ...cur, status: { ...cur.status, decisions: [...(cur.status?.decisions ?? []), decision] } }, 'kubectl-mcp').then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(KubeError);
  return err as KubeError;
}

describe('kubectl mcp approve under the shipped admission policy', () => {
  it("records an approver's decision: the identity it writes is the one the API server authenticated", async () => {
    await hold('approve-ok');
    const r = await kubectlMcp(users.alice, ['approve', 'approve-ok', '-n', ns, '--wait=0']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await admin.get<ApprovalRequest>(ar('approve-ok'))).status?.decisions).toMatchObject([{ user: 'alice', groups: [approvers, 'system:authenticated'], decision: 'approve' }]);
  });

  it("prints the server's refusal of self-approval verbatim and exits 1", async () => {
    await hold('self');
    const refusal = await directRefusal(users.carol, 'self', 'carol', [approvers, 'system:authenticated']);
    expect(refusal.message).toContain('carol asked for this call (spec.requester) and may not decide on it');
    const r = await kubectlMcp(users.carol, ['approve', 'self', '-n', ns, '--wait=0']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `Error from server (${refusal.reason}): ${refusal.message}\n` });
    expect((await admin.get<ApprovalRequest>(ar('self'))).status?.decisions).toBeUndefined();
  });

  it("prints the server's refusal of a non-member verbatim and exits 1", async () => {
    await hold('non-member');
    const refusal = await directRefusal(users.victor, 'non-member', 'victor', ['viewers', 'system:authenticated']);
    expect(refusal.message).toContain(`victor may not decide on ApprovalRequest non-member: it needs a member of ${approvers}`);
    const r = await kubectlMcp(users.victor, ['approve', 'non-member', '-n', ns, '--wait=0']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `Error from server (${refusal.reason}): ${refusal.message}\n` });
  });
});
