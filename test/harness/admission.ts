// toolgate's ApprovalRequest admission policy in tests: the shipped policy applied unchanged,
// with a copy of the shipped binding restricted to one namespace (parallel test files and the
// shared API server are unaffected), and a probe that waits until the API server enforces it.
// Policies and bindings reach the admission plugin through informers, so a test that just bound
// the policy probes until a create by someone other than the authorizer is refused (a dry run:
// nothing is stored); on timeout the error says what the API server answered.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from '../../pkg/kube/client.ts';
import { anApprovalRequest, waitFor } from './kube.ts';

type Doc = Record<string, unknown> & { metadata: Record<string, unknown>; spec?: Record<string, unknown> };
const shipped = (file: string) => parseAllDocuments(readFileSync(new URL(`../../config/admission/${file}`, import.meta.url), 'utf8'))[0]!.toJS() as Doc;
const admission = (plural: string, name: string) => ({ group: 'admissionregistration.k8s.io', version: 'v1', plural, name });

/** Binds the shipped policy to `namespace` only; resolves once it is enforced; returns the unbinding. */
export async function bindApprovalAdmission(admin: KubeClient, namespace: string, fieldManager: string): Promise<() => Promise<void>> {
  const policy = shipped('admission_policy.yaml');
  await admin.apply(admission('validatingadmissionpolicies', policy.metadata.name as string), policy, fieldManager);
  const binding = shipped('admission_binding.yaml');
  const name = `toolgate-approvalrequests-${namespace}`;
  await admin.apply(admission('validatingadmissionpolicybindings', name), {
    ...binding, metadata: { ...binding.metadata, name },
    spec: { ...binding.spec, matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } },
  }, fieldManager);
  await waitForApprovalAdmission(admin, namespace);
  return async () => { await admin.delete(admission('validatingadmissionpolicybindings', name)).catch(() => undefined); };
}

export async function waitForApprovalAdmission(admin: KubeClient, namespace: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => {
    const outcome = await admin.request('POST', `/apis/toolgate.io/v1alpha1/namespaces/${namespace}/approvalrequests`, {
      body: anApprovalRequest('admission-probe').build(), query: { dryRun: 'All' },
    }).then(() => 'the API server accepted a create by the admin', (err: unknown) => String((err as Error).message));
    if (outcome.includes('only the toolgate authorizer')) return true;
    throw new Error(outcome);
  }, { description: `the ApprovalRequest admission policy to be enforced in ${namespace}`, timeoutMs, intervalMs: 200 });
}
