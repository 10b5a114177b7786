// The issuer's signing keys: jwksUri when configured, else discovered from the issuer (OIDC
// discovery, then RFC 8414 authorization-server metadata). Caching, refetch on an unknown kid
// (key rotation) and the refetch cooldown are jose's createRemoteJWKSet; this module only finds
// the URL, once, and retries discovery after a failure instead of caching the failure forever.
// It also tells the verified-token cache which key set is in force (generation()).
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import type { KeyGeneration } from './token-cache.ts';

export type FetchLike = (url: string, init: { headers: Headers; method: 'GET'; redirect: 'manual'; signal: AbortSignal }) => Promise<Response>;

export interface KeySourceOptions {
  fetch?: FetchLike;
  /** Per-request timeout for discovery and JWKS fetches. Default 5 s. */
  timeoutMs?: number;
  /** Minimum time between two JWKS fetches triggered by unknown kids. Default 30 s (jose). */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is refetched. Default 10 min (jose). */
  jwksCacheMaxAgeMs?: number;
  /** After a failed discovery, callers are refused without a new attempt for this long. Default 5 s. */
  discoveryRetryMs?: number;
}

/** Thrown when the keys cannot be obtained; the verifier answers 503, never accepts. */
export class KeySourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySourceError';
  }
}

/**
 * Metadata URLs to try for an issuer, in order. OIDC Discovery appends the well-known suffix to
 * the issuer; RFC 8414 inserts it between host and path (both forms for OIDC, as MCP clients try).
 */
export function discoveryUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  const origin = u.origin;
  return [...new Set([
    `${origin}${path}/.well-known/openid-configuration`,
    `${origin}/.well-known/openid-configuration${path}`,
    `${origin}/.well-known/oauth-authorization-server${path}`,
  ])];
}

const tokenKeyErrors = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JOSE_NOT_SUPPORTED']);

export interface KeySource {
  getKey: JWTVerifyGetKey;
  /** The JWKS URL in use, once known. */
  jwksUri(): string | undefined;
  /** The key set in force: a new id once any fetch of discovery or keys starts (token-cache.ts). */
  generation(): KeyGeneration;
}

export function createKeySource(issuer: string, jwksUri: string | undefined, opts: KeySourceOptions = {}): KeySource {
  const baseFetch: FetchLike = opts.fetch ?? ((url, init) => fetch(url, init));
  // Every fetch starts a new generation: whatever it brings (a rotated set, a removed kid) may
  // differ from what verified the tokens cached so far, so those stop counting at once.
  let generation = 0;
  const fetchImpl: FetchLike = (url, init) => {
    generation++;
    return baseFetch(url, init);
  };
  const timeoutMs = opts.timeoutMs ?? 5000;
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  let resolvedUri: string | undefined;
  let pending: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let failedAt = -Infinity;
  let lastFailure: unknown;

  const build = (uri: string) => {
    resolvedUri = uri;
    remote = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: timeoutMs,
      ...(opts.jwksCooldownMs !== undefined ? { cooldownDuration: opts.jwksCooldownMs } : {}),
      ...(opts.jwksCacheMaxAgeMs !== undefined ? { cacheMaxAge: opts.jwksCacheMaxAgeMs } : {}),
      [customFetch]: fetchImpl,
    });
    return remote;
  };
  if (jwksUri) build(jwksUri);

  const discover = async () => {
    const problems: string[] = [];
    for (const url of discoveryUrls(issuer)) {
      let res: Response;
      try {
        res = await fetchImpl(url, { method: 'GET', redirect: 'manual', headers: new Headers({ accept: 'application/json' }), signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        problems.push(`${url}: ${(err as Error).message}`);
        continue;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        problems.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      const doc = (await res.json().catch(() => undefined)) as { issuer?: unknown; jwks_uri?: unknown } | undefined;
      // Mix-up defence (OIDC Discovery §4.3, RFC 8414 §3.3): the document must speak for our issuer.
      if (doc?.issuer !== issuer) throw new KeySourceError(`discovery document ${url} names issuer ${JSON.stringify(doc?.issuer)}, expected ${issuer}`);
      if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new KeySourceError(`discovery document ${url} has no http(s) jwks_uri`);
      return build(doc.jwks_uri);
    }
    throw new KeySourceError(`no discovery document for issuer ${issuer} (${problems.join('; ')})`);
  };

  const ready = async () => {
    if (remote) return remote;
    if (performance.now() - failedAt < (opts.discoveryRetryMs ?? 5000)) {
      throw new KeySourceError('issuer discovery failed recently; not retrying yet', { cause: lastFailure });
    }
    pending ??= discover().catch((err: unknown) => {
      failedAt = performance.now();
      lastFailure = err;
      throw err instanceof KeySourceError ? err : new KeySourceError(`issuer discovery failed: ${(err as Error).message}`, { cause: err });
    }).finally(() => { pending = undefined; });
    return pending;
  };

  return {
    getKey: async (header, token) => {
      const jwks = await ready();
      try {
        return await jwks(header, token);
      } catch (err) {
        // Key selection failures are the token's fault; anything else (network, HTTP status,
        // malformed JWKS) is ours or the issuer's, and must not read as a bad token.
        if (tokenKeyErrors.has((err as { code?: string }).code ?? '')) throw err;
        throw new KeySourceError(`cannot use the JWKS at ${resolvedUri}: ${(err as Error).message}`, { cause: err });
      }
    },
    jwksUri: () => resolvedUri,
    generation: () => ({ id: generation, usable: remote !== undefined && pending === undefined && remote.fresh && !remote.reloading }),
  };
}
