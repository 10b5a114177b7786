// Service accounts and ports for tests that stand in for pods: a ServiceAccount with a token
// from the real TokenRequest API (what kubelet projects into a pod), and a free loopback port.
import { createServer } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { isAlreadyExists, type KubeClient } from '../../pkg/kube/client.ts';

/** Creates the ServiceAccount (unless it exists) and returns a fresh token for it. */
export async function serviceAccountToken(admin: KubeClient, namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
  try {
    await admin.create({ group: '', version: 'v1', plural: 'serviceaccounts', namespace }, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  const review = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
  });
  return review.status.token;
}

/** A KubeConfig that acts with a bearer token (a pod's service-account token), against `cluster`. */
export function tokenKubeConfig(cluster: { server: string; caCertPath: string }, user: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'cluster', server: cluster.server, caFile: cluster.caCertPath }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: 'cluster', user }],
    currentContext: user,
  });
  return kc;
}

/** The service account (created unless it exists) as a KubeConfig with a fresh token. */
export async function serviceAccountKubeConfig(admin: KubeClient, cluster: { server: string; caCertPath: string }, namespace: string, name: string): Promise<KubeConfig> {
  return tokenKubeConfig(cluster, name, await serviceAccountToken(admin, namespace, name));
}

/** A loopback port free at the time of asking (for processes that must be told their port). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
