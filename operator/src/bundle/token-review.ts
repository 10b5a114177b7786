// Authenticates bundle clients by their Kubernetes service-account token, asking the API
// server (TokenReview) rather than validating the JWT locally: that covers bound tokens whose
// pod or secret was deleted, legacy tokens and whatever issuer the cluster uses. Positive
// answers are cached briefly (keyed by the token's SHA-256, never the token) because
// long-polling clients come back every few seconds.
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { KubeClient } from '../../../pkg/kube/client.ts';
import { errorMessage, type Logger } from '../../../pkg/observability/log.ts';
import type { BundleMetrics } from './metrics.ts';

export interface Caller {
  username: string;
  uid?: string;
  groups: string[];
}

/** Resolves the caller of a bearer token, undefined when the token is not valid. Throws when it cannot tell. */
export type Authenticator = (token: string) => Promise<Caller | undefined>;

export class AuthenticationUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthenticationUnavailableError';
  }
}

export interface TokenReviewOptions {
  client: KubeClient;
  /** Audiences the token must be valid for; the API server's default audience when absent. */
  audiences?: readonly string[];
  cacheTtlMs?: number;
  maxCacheEntries?: number;
  metrics?: BundleMetrics;
  log?: Logger;
  now?: () => number;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[] };
  audiences?: string[];
  error?: string;
}

// Service-account tokens are a few KB at most; anything else is refused without a round trip.
const maxTokenLength = 16 * 1024;
const tokenChars = /^[\x21-\x7e]+$/;

export function tokenReviewAuthenticator(opts: TokenReviewOptions): Authenticator {
  const ttl = opts.cacheTtlMs ?? 10_000;
  const maxEntries = opts.maxCacheEntries ?? 1000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { caller: Caller; expires: number }>();
  const inFlight = new Map<string, Promise<Caller | undefined>>();

  const review = async (token: string): Promise<Caller | undefined> => {
    let status: TokenReviewStatus | undefined;
    try {
      const reply = await opts.client.request<{ status?: TokenReviewStatus }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(opts.audiences ? { audiences: opts.audiences } : {}) } },
        timeoutMs: 10_000,
      });
      status = reply.status;
    } catch (err) {
      opts.metrics?.tokenReviews.inc({ result: 'error' });
      throw new AuthenticationUnavailableError(`TokenReview failed: ${errorMessage(err)}`, { cause: err });
    }
    const username = status?.user?.username;
    if (!status?.authenticated || !username) {
      opts.metrics?.tokenReviews.inc({ result: 'rejected' });
      opts.log?.debug({ reason: status?.error }, 'token rejected by TokenReview');
      return undefined;
    }
    opts.metrics?.tokenReviews.inc({ result: 'authenticated' });
    return { username, groups: status.user?.groups ?? [], ...(status.user?.uid ? { uid: status.user.uid } : {}) };
  };

  return async (token: string) => {
    if (token.length > maxTokenLength || !tokenChars.test(token)) {
      opts.metrics?.tokenReviews.inc({ result: 'rejected' });
      return undefined;
    }
    const key = createHash('sha256').update(token).digest('hex');
    const hit = cache.get(key);
    if (hit && hit.expires > now()) {
      opts.metrics?.tokenReviews.inc({ result: 'cached' });
      return hit.caller;
    }
    cache.delete(key);
    // Concurrent requests with one token (a client's retries, several bundles) share one review.
    let pending = inFlight.get(key);
    if (!pending) {
      pending = review(token).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    const caller = await pending;
    if (caller) {
      cache.set(key, { caller, expires: Math.min(now() + ttl, tokenExpiry(token) ?? Infinity) });
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    }
    return caller;
  };
}

/** A JWT's exp in ms, so a cached answer never outlives the token; undefined when not a JWT. */
function tokenExpiry(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
