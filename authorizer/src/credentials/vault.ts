// Reads credential values from Vault KV v2, logging in with the Kubernetes auth method: the
// pod's service-account JWT (re-read at each login, as projected tokens rotate) is exchanged
// for a Vault token per role. The token is kept until most of its lease is used, then renewed;
// when renewal fails or Vault's max TTL caps it, the source logs in again.
import { readFile } from 'node:fs/promises';
import nodeVault from 'node-vault';
import { serviceAccountTokenPath } from '../../../pkg/kube/service-account.ts';
import { TtlCache } from './cache.ts';
import { CredentialError, scrub } from './errors.ts';
import type { CredentialMetrics } from './metrics.ts';

export interface VaultSourceOptions {
  /** Vault address, for example `https://vault.vault.svc:8200`. */
  endpoint: string;
  /** Role used when a server's `credentials.vault.role` is absent. */
  defaultRole?: string;
  /** Mount path of the Kubernetes auth method. Default `kubernetes`. */
  authMount?: string;
  /** File holding the service-account JWT. Default: the pod's mounted token. */
  jwtPath?: string;
  /** PEM CA bundle that signs Vault's TLS certificate. */
  caCert?: string | Buffer;
  /** How long a read secret is trusted before it is read again. Default 60 s. */
  ttlMs?: number;
  errorTtlMs?: number;
  /** Share of the token lease after which it is renewed. Default 0.8. */
  renewFraction?: number;
  requestTimeoutMs?: number;
  metrics?: CredentialMetrics;
  now?: () => number;
}

interface TokenState {
  token: string;
  leaseMs: number;
  renewAt: number;
  renewable: boolean;
}

interface VaultAuth {
  client_token?: string;
  lease_duration?: number;
  renewable?: boolean;
}

type Fields = Map<string, unknown>;

const statusOf = (err: unknown): number | undefined => (err as { response?: { statusCode?: number } }).response?.statusCode;

export class VaultSource {
  private readonly opts: VaultSourceOptions;
  private readonly client: nodeVault.client;
  private readonly tokens = new Map<string, TokenState>();
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly cache: TtlCache<Fields>;
  private readonly now: () => number;
  private jwt: string | undefined;

  constructor(opts: VaultSourceOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    // node-vault's debug output prints request bodies (the login JWT): keep it silenced.
    this.client = nodeVault({
      endpoint: opts.endpoint,
      debug: () => undefined,
      requestOptions: { timeout: opts.requestTimeoutMs ?? 10_000, ...(opts.caCert ? { ca: opts.caCert } : {}) },
    });
    this.cache = new TtlCache({ ttlMs: opts.ttlMs ?? 60_000, errorTtlMs: opts.errorTtlMs, now: this.now });
  }

  /** The string value of `key` in the KV v2 secret at `path`, read with `role`. */
  async value(path: string, key: string, role = this.opts.defaultRole): Promise<string> {
    if (!role) throw new CredentialError('NotConfigured', `credentials.vault.role is not set for Vault path ${path} and the authorizer has no default Vault role`);
    const clean = cleanPath(path);
    const fields = await this.cache.get(`${role}\u0000${clean}`, () => this.readSecret(clean, role));
    const value = fields.get(key);
    if (value === undefined) throw new CredentialError('KeyNotFound', `Vault secret ${clean} has no field ${JSON.stringify(key)}`);
    if (typeof value !== 'string') throw new CredentialError('InvalidValue', `Vault secret ${clean} field ${JSON.stringify(key)} is not a string`);
    return value;
  }

  /** Forgets cached secrets (tokens are kept). */
  invalidate(): void {
    this.cache.clear();
  }

  private async readSecret(path: string, role: string): Promise<Fields> {
    let body: { data?: { data?: Record<string, unknown> | null; metadata?: unknown } };
    try {
      body = await this.withToken(role, (token) => this.client.read(path, { headers: { 'X-Vault-Token': token } }));
    } catch (err) {
      if (err instanceof CredentialError) throw err;
      const status = statusOf(err);
      if (status === 404) throw new CredentialError('SecretNotFound', `Vault secret ${path} not found`);
      if (status === 403) throw new CredentialError('Forbidden', `Vault role ${JSON.stringify(role)} may not read ${path} (check the role's Vault policies)`);
      throw this.unavailable(`reading Vault secret ${path}`, err);
    }
    const data = body.data;
    if (!data || !('metadata' in data)) {
      throw new CredentialError('NotConfigured', `Vault path ${path} did not return a KV v2 secret (the path must include the mount's data/ segment, for example secret/data/app)`);
    }
    if (!data.data) throw new CredentialError('SecretNotFound', `Vault secret ${path} has no current version (deleted or destroyed)`);
    return new Map(Object.entries(data.data));
  }

  /** Runs `call` with the role's token; on 403 the token may have been revoked: log in once more. */
  private async withToken<T>(role: string, call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.token(role);
    try {
      return await call(token);
    } catch (err) {
      if (statusOf(err) !== 403) throw err;
      this.tokens.delete(role);
      return await call(await this.token(role));
    }
  }

  private token(role: string): Promise<string> {
    const t = this.tokens.get(role);
    if (t && this.now() < t.renewAt) return Promise.resolve(t.token);
    let p = this.refreshing.get(role);
    if (!p) {
      p = this.refresh(role, t).finally(() => this.refreshing.delete(role));
      this.refreshing.set(role, p);
    }
    return p;
  }

  private async refresh(role: string, t: TokenState | undefined): Promise<string> {
    if (t?.renewable) {
      try {
        const res = (await this.client.write('auth/token/renew-self', {}, { headers: { 'X-Vault-Token': t.token } })) as { auth?: VaultAuth };
        const leaseMs = (res.auth?.lease_duration ?? 0) * 1000;
        // A renewal capped by the token's max TTL returns a shrinking lease: log in afresh instead.
        if (leaseMs >= t.leaseMs / 2) {
          this.opts.metrics?.vaultLogins.inc({ kind: 'renew', result: 'ok' });
          return this.store(role, t.token, res.auth ?? {});
        }
      } catch {
        this.opts.metrics?.vaultLogins.inc({ kind: 'renew', result: 'error' });
      }
    }
    return this.login(role);
  }

  private async login(role: string): Promise<string> {
    const mount = this.opts.authMount ?? 'kubernetes';
    const jwtPath = this.opts.jwtPath ?? serviceAccountTokenPath;
    try {
      this.jwt = (await readFile(jwtPath, 'utf8')).trim();
    } catch (err) {
      throw new CredentialError('VaultLogin', `cannot read the service-account token for Vault login at ${jwtPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    let res: { auth?: VaultAuth };
    try {
      res = (await this.client.write(`auth/${mount}/login`, { role, jwt: this.jwt })) as { auth?: VaultAuth };
    } catch (err) {
      this.opts.metrics?.vaultLogins.inc({ kind: 'login', result: 'error' });
      const status = statusOf(err);
      if (status === undefined) throw this.unavailable(`Vault login at auth/${mount}`, err);
      throw new CredentialError('VaultLogin', `Vault login at auth/${mount} with role ${JSON.stringify(role)} failed (HTTP ${status}): ${this.why(err)}`);
    }
    const token = res.auth?.client_token;
    if (!token) throw new CredentialError('VaultLogin', `Vault login at auth/${mount} with role ${JSON.stringify(role)} returned no token`);
    this.opts.metrics?.vaultLogins.inc({ kind: 'login', result: 'ok' });
    return this.store(role, token, res.auth ?? {});
  }

  private store(role: string, token: string, auth: VaultAuth): string {
    const leaseMs = (auth.lease_duration ?? 0) * 1000;
    // A lease of 0 means the token never expires (for example a root token).
    const renewAt = leaseMs > 0 ? this.now() + leaseMs * (this.opts.renewFraction ?? 0.8) : Number.POSITIVE_INFINITY;
    this.tokens.set(role, { token, leaseMs, renewAt, renewable: auth.renewable === true });
    return token;
  }

  private why(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return scrub(message, [this.jwt, ...[...this.tokens.values()].map((t) => t.token)]);
  }

  private unavailable(what: string, err: unknown): CredentialError {
    return new CredentialError('Unavailable', `${what} failed (${this.opts.endpoint}): ${this.why(err)}`);
  }
}

function cleanPath(path: string): string {
  const clean = path.replace(/^\/+/, '');
  if (clean.split('/').some((s) => s === '..' || s === '.') || /[?#]/.test(clean) || clean === '') {
    throw new CredentialError('NotConfigured', `credentials.vault.path ${JSON.stringify(path)} is not a plain Vault path`);
  }
  return clean;
}
