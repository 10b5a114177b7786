// Reads credential values from Kubernetes Secrets by name, through a short TTL cache.
//
// Why a TTL cache and not a watch: a GET of a named Secret needs only `get` on that Secret
// (RBAC resourceNames can pin it), while an informer needs list/watch on every Secret of the
// namespace. A rotated or deleted Secret takes effect within the TTL.
import { KubeError, isNotFound, type KubeClient } from '../../../pkg/kube/client.ts';
import { TtlCache } from './cache.ts';
import { CredentialError } from './errors.ts';

interface SecretObject {
  data?: Record<string, string>;
}

export interface KubeSecretSourceOptions {
  client: KubeClient;
  /** How long a read Secret is trusted before it is read again. Default 30 s. */
  ttlMs?: number;
  /** How long a failed read is remembered. Default 1 s. */
  errorTtlMs?: number;
}

export class KubeSecretSource {
  private readonly client: KubeClient;
  private readonly cache: TtlCache<Map<string, string>>;

  constructor(opts: KubeSecretSourceOptions) {
    this.client = opts.client;
    this.cache = new TtlCache({ ttlMs: opts.ttlMs ?? 30_000, errorTtlMs: opts.errorTtlMs });
  }

  /** The decoded value of `key` in Secret `namespace/name`, or a CredentialError naming both. */
  async value(namespace: string, name: string, key: string): Promise<string> {
    const data = await this.cache.get(`${namespace}/${name}`, () => this.read(namespace, name));
    const value = data.get(key);
    if (value === undefined) {
      const keys = [...data.keys()].slice(0, 10).map((k) => JSON.stringify(k)).join(', ');
      throw new CredentialError('KeyNotFound', `Secret ${namespace}/${name} has no key ${JSON.stringify(key)} (keys: ${keys || 'none'})`);
    }
    return value;
  }

  /** Forgets every cached Secret: the next look-up reads the API server. */
  invalidate(): void {
    this.cache.clear();
  }

  private async read(namespace: string, name: string): Promise<Map<string, string>> {
    let secret: SecretObject;
    try {
      secret = await this.client.get<SecretObject>({ group: '', version: 'v1', plural: 'secrets', namespace, name });
    } catch (err) {
      if (isNotFound(err)) throw new CredentialError('SecretNotFound', `Secret ${namespace}/${name} not found`);
      if (err instanceof KubeError && err.code === 403) {
        throw new CredentialError('Forbidden', `the authorizer may not read Secret ${namespace}/${name} (grant get on secrets in ${namespace})`);
      }
      // KubeError messages are the API server's Status message, which never carries Secret data.
      const why = err instanceof Error ? err.message : String(err);
      throw new CredentialError('Unavailable', `reading Secret ${namespace}/${name} failed: ${why}`);
    }
    const data = new Map<string, string>();
    for (const [k, v] of Object.entries(secret.data ?? {})) data.set(k, Buffer.from(v, 'base64').toString('utf8'));
    return data;
  }
}
