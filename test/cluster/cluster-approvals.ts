// Approvals on the real node: an approver with a client certificate the cluster's CA signed
// (user ann in group sre, as an identity provider would assert), `kubectl mcp approve` run by
// kubectl as a plugin from build/bin, and what the cluster says about a held call: its
// ApprovalRequest, the authorizer pod holding it, how often the server ran it.
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { must, root, waitFor, type Cluster } from './cluster-support.ts';

const binDir = process.env.TOOLGATE_BIN_DIR ?? `${root}build/bin`;

export interface ClusterApprover { user: string; kubeconfig: string }

/** A person (CN=user, O=group) with a client certificate from the cluster's CA, bound to the chart's toolgate-approver ClusterRole in `namespace`. */
export async function clusterApprover(cluster: Cluster, clusterDir: string, dir: string, user: string, group: string, namespace: string): Promise<ClusterApprover> {
  const pki = join(clusterDir, 'pki');
  await must('bash', ['-c', `set -e; cd "${dir}"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${user}/O=${group}" -keyout ${user}.key -out ${user}.csr 2>/dev/null
openssl x509 -req -in ${user}.csr -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" -CAcreateserial -CAserial ${user}.srl -days 1 -sha256 -out ${user}.crt 2>/dev/null`]);
  const admin = await must('bash', ['-c', `grep -o 'server: "[^"]*"' "${cluster.kubeconfig}" | head -1`]);
  const server = /server: "([^"]+)"/.exec(admin)?.[1];
  if (!server) throw new Error(`no server in ${cluster.kubeconfig}`);
  const kubeconfig = join(dir, `${user}.kubeconfig`);
  await writeFile(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': user,
    clusters: [{ name: 'toolgate', cluster: { server, 'certificate-authority': join(pki, 'ca.crt') } }],
    users: [{ name: user, user: { 'client-certificate': join(dir, `${user}.crt`), 'client-key': join(dir, `${user}.key`) } }],
    contexts: [{ name: user, context: { cluster: 'toolgate', user, namespace } }],
  }));
  await cluster.apply([{
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `approvers-${group}`, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'toolgate-approver' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
  }]);
  return { user, kubeconfig };
}

/** `kubectl mcp approve NAME -n NS` as the approver: kubectl finds the plugin (build/bin/kubectl-mcp) on PATH. */
export async function approve(cluster: Cluster, who: ClusterApprover, request: ApprovalRequest, reason: string): Promise<string> {
  const r = await cluster.inNetns(`${binDir}/kubectl`, ['mcp', 'approve', request.metadata.name!, '-n', request.metadata.namespace!, '--wait=0', `--reason=${reason}`], {
    env: { KUBECONFIG: who.kubeconfig, PATH: `${binDir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  });
  if (r.code !== 0) throw new Error(`kubectl mcp approve failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout + r.stderr;
}

/** The ApprovalRequest of the held `tool` call whose `name` argument is `name`, once it exists and matches. */
export function approvalFor(cluster: Cluster, namespace: string, tool: string, name: string, predicate: (r: ApprovalRequest) => boolean = () => true): Promise<ApprovalRequest> {
  return waitFor(`an ApprovalRequest for ${tool} ${name}`, async () => {
    const list = await cluster.getJson<{ items: ApprovalRequest[] }>(['get', 'approvalrequests.toolgate.io', '-n', namespace]);
    return list.items.find((r) => r.spec.tool === tool && (r.spec.arguments as { name?: string }).name === name && predicate(r));
  }, 60_000);
}

export const phaseIs = (phase: string) => (r: ApprovalRequest) => (r.status?.phase ?? 'Pending') === phase;

/** The authorizer pod whose log says it holds the call of `request` (one pod holds one connection). */
export function holderOf(cluster: Cluster, namespace: string, request: ApprovalRequest, pods: string[]): Promise<string> {
  const ref = `${request.metadata.namespace}/${request.metadata.name}`;
  return waitFor(`the authorizer pod holding ${ref}`, async () => {
    for (const pod of pods) {
      const logs = await cluster.kubectl(['logs', '-n', namespace, pod]);
      if (logs.split('\n').some((l) => l.includes('call held for approval') && l.includes(ref))) return pod;
    }
    return undefined;
  }, 30_000);
}

/** How many publish_note calls for `name` the notes server ran (its log, one line per call). */
export async function publishedCount(cluster: Cluster, name: string): Promise<number> {
  const logs = await cluster.kubectl(['logs', '-n', 'mcp-servers', 'deploy/notes-mcp']);
  return logs.split('\n').filter((l) => l.includes('"msg":"published"') && l.includes(`"name":"${name}"`)).length;
}
