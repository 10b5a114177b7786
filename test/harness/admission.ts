// Waiting for toolgate's ApprovalRequest admission policy to be enforced in a namespace.
// Policies, bindings and params reach the API server's admission plugin through informers, so
// a test that just bound the policy probes until a create by someone other than the authorizer
// is refused (a dry run: nothing is stored). On timeout it says what the API server answered.
import type { KubeClient } from '../../operator/src/kube/client.ts';
import { anApprovalRequest, waitFor } from './kube.ts';

export async function waitForApprovalAdmission(admin: KubeClient, namespace: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => {
    const outcome = await admin.request('POST', `/apis/toolgate.io/v1alpha1/namespaces/${namespace}/approvalrequests`, {
      body: anApprovalRequest('admission-probe').build(), query: { dryRun: 'All' },
    }).then(() => 'the API server accepted a create by the admin', (err: unknown) => String((err as Error).message));
    if (outcome.includes('only the toolgate authorizer')) return true;
    throw new Error(outcome);
  }, { description: `the ApprovalRequest admission policy to be enforced in ${namespace}`, timeoutMs, intervalMs: 200 });
}
