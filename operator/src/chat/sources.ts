// Where the chat endpoint's configuration lives: the Slack signing secret(s) in a Secret (key
// `signing-secret`, and `previous-signing-secret` while rotating) and the identity table in a
// ConfigMap. Both are read at request time, cached briefly, so an edit takes effect without a
// restart; a read failure or a bad table refuses the click (nothing is decided on a guess).
import type { KubeClient } from '../../../pkg/kube/client.ts';
import { parseIdentityMap, type KubernetesIdentity } from './identity-map.ts';

export interface ObjectRef {
  namespace: string;
  name: string;
}

function cached<T>(ttlMs: number, load: () => Promise<T>): () => Promise<T> {
  let entry: { value: T; at: number } | undefined;
  return async () => {
    if (entry && Date.now() - entry.at < ttlMs) return entry.value;
    const value = await load();
    entry = { value, at: Date.now() };
    return value;
  };
}

export function secretSigningSecrets(client: KubeClient, ref: ObjectRef, ttlMs = 30_000): () => Promise<string[]> {
  return cached(ttlMs, async () => {
    const secret = await client.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'secrets', ...ref });
    const secrets = ['signing-secret', 'previous-signing-secret']
      .map((k) => secret.data?.[k])
      .flatMap((raw) => (raw ? [Buffer.from(raw, 'base64').toString('utf8').trim()] : []))
      .filter((s) => s !== '');
    if (secrets.length === 0) throw new Error(`Secret ${ref.namespace}/${ref.name} has no signing-secret`);
    return secrets;
  });
}

export function configMapIdentities(client: KubeClient, ref: ObjectRef, ttlMs = 30_000): () => Promise<ReadonlyMap<string, KubernetesIdentity>> {
  return cached(ttlMs, async () => {
    const cm = await client.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', ...ref });
    return parseIdentityMap(cm.data);
  });
}
