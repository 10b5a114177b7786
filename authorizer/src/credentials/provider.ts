// The one place the authorizer turns a server's credential reference into the header it sends
// upstream. The caller's own token never travels upstream; this header replaces it.
import type { Logger } from 'pino';
import type { GatewayServer } from '../gate/types.ts';
import { CredentialError } from './errors.ts';
import { credentialHeader } from './header.ts';
import type { KubeSecretSource } from './kube-secret.ts';
import type { CredentialMetrics, CredentialSourceKind, LookupResult } from './metrics.ts';
import type { VaultSource } from './vault.ts';

export interface CredentialProviderOptions {
  /** Namespace of `secretRef` Secrets: the policy's namespace (or the authorizer's). */
  namespace: string;
  secrets?: KubeSecretSource;
  vault?: VaultSource;
  log?: Logger;
  metrics?: CredentialMetrics;
}

export class CredentialProvider {
  private readonly opts: CredentialProviderOptions;

  constructor(opts: CredentialProviderOptions) {
    this.opts = opts;
  }

  /**
   * The header to add to requests to `server`: `{ <header>: "<scheme> <value>" }`, or `{}` when
   * the server declares no credentials. Rejects with a CredentialError that names the source and
   * key, never the value; the caller must then fail the call (fail closed), not send it bare.
   */
  async headersFor(server: GatewayServer, namespace = this.opts.namespace): Promise<Record<string, string>> {
    const c = server.credentials;
    if (!c) return {};
    const source: CredentialSourceKind = c.secretRef ? 'secret' : 'vault';
    const where = c.secretRef ? `Secret ${namespace}/${c.secretRef.name} key ${JSON.stringify(c.secretRef.key)}` : `Vault ${c.vault?.path ?? '?'} field ${JSON.stringify(c.vault?.key ?? '?')}`;
    try {
      const value = await this.lookup(server, namespace);
      const headers = credentialHeader(c, value, where);
      this.count(source, 'ok');
      this.opts.log?.debug({ server: server.name, source, from: where, header: Object.keys(headers)[0] }, 'upstream credential resolved');
      return headers;
    } catch (err) {
      const e = err instanceof CredentialError ? err : new CredentialError('Unavailable', `${where}: unexpected failure`);
      this.count(source, e.reason);
      this.opts.log?.warn({ server: server.name, source, reason: e.reason, err: e.message }, 'upstream credential unavailable');
      throw new CredentialError(e.reason, `credentials for server ${JSON.stringify(server.name)}: ${e.message}`);
    }
  }

  private lookup(server: GatewayServer, namespace: string): Promise<string> {
    const c = server.credentials ?? {};
    if (c.secretRef && c.vault) throw new CredentialError('NotConfigured', 'credentials set both secretRef and vault; exactly one is allowed');
    if (c.secretRef) {
      if (!this.opts.secrets) throw new CredentialError('NotConfigured', 'credentials.secretRef is set but the authorizer has no Kubernetes Secret source');
      return this.opts.secrets.value(namespace, c.secretRef.name, c.secretRef.key);
    }
    if (c.vault) {
      if (!this.opts.vault) throw new CredentialError('NotConfigured', 'credentials.vault is set but the authorizer has no Vault address configured');
      return this.opts.vault.value(c.vault.path, c.vault.key, c.vault.role);
    }
    throw new CredentialError('NotConfigured', 'credentials name neither secretRef nor vault');
  }

  private count(source: CredentialSourceKind, result: LookupResult): void {
    this.opts.metrics?.lookups.inc({ source, result });
  }
}
