// Shared set-up for the approval tests: a namespace with the shipped admission policy bound to it
// (params naming this namespace's operator and authorizer service accounts), the shipped operator
// RBAC bound to that operator SA, and people minted with their own credentials.
import { serviceAccountKubeConfig } from '../harness/accounts.ts';
import { bindApprovalAdmission } from '../harness/admission.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll } from 'vitest';
import type { ApprovalRequest, Decision } from '../../api/v1alpha1/index.ts';
import { KubeClient, isConflict, type ResourceRef } from '../../pkg/kube/client.ts';
import { controlPlane, mintUser, uniqueName } from '../harness/kube.ts';

const root = join(import.meta.dirname, '..', '..');
export const fieldManager = 'toolgate-test';
const systemNamespace = 'toolgate-system';
type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

function docs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(root, file), 'utf8')).map((d) => d.toJSON() as Obj).filter(Boolean);
}

function refOf(o: Obj): ResourceRef {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') as [string, string] : ['', o.apiVersion];
  const kind = o.kind.toLowerCase();
  const plural = kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`;
  return { group, version, plural, namespace: o.metadata.namespace, name: o.metadata.name };
}

export function admin(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(controlPlane().adminKubeconfig);
  return new KubeClient(kc);
}

export function clientOf(kubeconfigPath: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return new KubeClient(kc);
}

/** A KubeConfig authenticated as a real service account (TokenRequest), as a pod would be. */
export const serviceAccountConfig = (namespace: string, name: string): Promise<KubeConfig> => serviceAccountKubeConfig(admin(), controlPlane(), namespace, name);

export const approvalRef = (namespace: string, name?: string, subresource?: string): ResourceRef =>
  ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace, name, subresource });

export interface ApprovalEnv {
  ns: string;
  operatorUser: string;
  authorizerUser: string;
  operatorConfig: () => Promise<KubeConfig>;
  authorizer: () => KubeClient;
  /** A person in `groups` (plus toolgate:humans, which may write decisions in ns). */
  person: (name: string, groups: string[]) => Promise<KubeClient>;
}

/**
 * Namespace + admission policy (bound to this namespace only, so parallel test files and their
 * operators are unaffected) + RBAC. Waits until the API server enforces the binding.
 */
export function withApprovalNamespace(prefix: string): ApprovalEnv {
  const ns = uniqueName(prefix);
  let unbind: (() => Promise<void>) | undefined;
  // The identities the shipped admission policy trusts.
  const operatorUser = `system:serviceaccount:${systemNamespace}:toolgate-operator`;
  const authorizerUser = `system:serviceaccount:${systemNamespace}:toolgate-authorizer`;
  let authorizerClient: KubeClient | undefined;
  const env: ApprovalEnv = {
    ns, operatorUser, authorizerUser,
    operatorConfig: () => serviceAccountConfig(systemNamespace, 'toolgate-operator'),
    authorizer: () => authorizerClient as KubeClient,
    person: async (name, groups) => clientOf(await mintUser(name, [...groups, 'toolgate:humans'])),
  };

  beforeAll(async () => {
    const a = admin();
    const put = (o: Obj) => a.apply(refOf(o), o, fieldManager);
    await put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: systemNamespace } });
    for (const sa of ['toolgate-operator', 'toolgate-authorizer']) await put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: systemNamespace } });

    unbind = await bindApprovalAdmission(a, ns, fieldManager);

    // The shipped operator RBAC, for this namespace's operator SA.
    for (const o of [...docs('config/rbac/role.yaml'), ...docs('config/rbac/namespace_role.yaml'), ...docs('config/rbac/governed_namespace_role.yaml')]) {
      const copy = structuredClone(o) as Obj & { subjects?: Array<{ namespace?: string }>; roleRef?: { name: string } };
      if (copy.metadata.namespace) copy.metadata.namespace = ns;
      for (const s of copy.subjects ?? []) s.namespace = systemNamespace;
      await put(copy);
    }
    await put({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `toolgate-operator-${ns}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'toolgate-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'toolgate-operator', namespace: systemNamespace }],
    });
    // The authorizer creates requests and consumes approvals; people read them and append decisions.
    const rules = (verbs: string[], statusVerbs: string[]) => [
      { apiGroups: ['toolgate.io'], resources: ['approvalrequests'], verbs },
      { apiGroups: ['toolgate.io'], resources: ['approvalrequests/status'], verbs: statusVerbs },
    ];
    for (const [role, subject, verbs] of [
      ['toolgate-authorizer-approvals', { kind: 'ServiceAccount', name: 'toolgate-authorizer', namespace: systemNamespace }, ['create', 'get', 'list', 'watch', 'patch']],
      ['approvers', { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'toolgate:humans' }, ['get', 'list', 'watch', 'patch']],
    ] as const) {
      await put({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: role, namespace: ns }, rules: rules([...verbs], ['get', 'patch', 'update']) });
      await put({
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: role, namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role }, subjects: [subject],
      });
    }
    authorizerClient = new KubeClient(await serviceAccountConfig(systemNamespace, 'toolgate-authorizer'));

  });

  afterAll(async () => {
    const a = admin();
    const del = (r: ResourceRef) => a.delete(r).catch(() => undefined);
    await unbind?.();
    await del({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', name: `toolgate-operator-${ns}` });
    await del({ group: '', version: 'v1', plural: 'namespaces', name: ns });
  });
  return env;
}

/** What `kubectl mcp approve|deny` does: append one decision with a resourceVersion precondition. */
export async function decide(
  client: KubeClient, namespace: string, name: string, entry: Omit<Decision, 'time'> & { time?: string },
  mutate?: (decisions: Decision[]) => Decision[],
): Promise<ApprovalRequest> {
  for (let attempt = 1; ; attempt++) {
    const ar = await client.get<ApprovalRequest>(approvalRef(namespace, name));
    const decisions = [...(ar.status?.decisions ?? []), { time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...entry }];
    const body = { ...ar, status: { ...ar.status, decisions: mutate ? mutate(decisions) : decisions } };
    try {
      return await client.replace<ApprovalRequest>(approvalRef(namespace, name, 'status'), body, 'kubectl-mcp');
    } catch (err) {
      // The operator wrote the phase in between: read again and re-append, as the plugin does.
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

/** The API server's refusal message, or undefined when the write went through. */
export async function refusal(write: Promise<unknown>): Promise<string | undefined> {
  try {
    await write;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
