// The authorizer's identity for the benchmark, as in a pod: a ServiceAccount with the Lease
// Role of config/authorizer, a token from the TokenRequest API written to a file (the bundle
// service checks it with TokenReview), and a KubeConfig that acts with that token.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from '../../pkg/kube/client.ts';
import { serviceAccountToken, tokenKubeConfig } from '../../test/harness/accounts.ts';
import type { ControlPlane } from '../../test/harness/controlplane.ts';

export interface AuthorizerAccount {
  /** "system:serviceaccount:<ns>:authorizer", for the bundle service's allow list. */
  user: string;
  tokenPath: string;
  kubeConfig: KubeConfig;
}

export async function setUpAuthorizerAccount(admin: KubeClient, cp: ControlPlane, ns: string): Promise<AuthorizerAccount> {
  const core = { group: '', version: 'v1', namespace: ns };
  const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', namespace: ns };
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
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
  const token = await serviceAccountToken(admin, ns, 'authorizer');
  const dir = await mkdtemp(join(cp.dir, 'authorizer-'));
  const tokenPath = join(dir, 'token');
  await writeFile(tokenPath, token, { mode: 0o600 });
  return { user: `system:serviceaccount:${ns}:authorizer`, tokenPath, kubeConfig: tokenKubeConfig(cp.env, 'authorizer', token) };
}
