// Bearer JWT verification per the MCP authorization spec (OAuth 2.1 resource server): the
// header parsed per RFC 6750, signed JWTs only, an asymmetric algorithm allow-list, issuer,
// audience (RFC 8707 resource URI), time claims with a small skew, a maximum lifetime,
// forbidden scopes; then the claims become a CallerIdentity. Everything not proven is refused.
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import type { Identity } from '../../../api/v1alpha1/index.ts';
import type { CallerIdentity } from '../gate/types.ts';
import { assertNoTokenInQuery, bearerToken } from './bearer.ts';
import { parseDuration } from '../../../pkg/duration.ts';
import { forbiddenScopesIn, scopesOf, toCallerIdentity } from './claims.ts';
import { AuthenticationError, invalidToken } from './errors.ts';
import { KeySourceError, createKeySource, type KeySourceOptions } from './keys.ts';
import type { AuthnMetrics } from './metrics.ts';
import { VerifiedTokenCache, type TokenCacheOptions } from './token-cache.ts';

/** Asymmetric JWS algorithms only: HS* would let anyone holding the public key forge tokens. */
export const safeAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const defaultClockSkew = '30s';

export interface TokenVerifierOptions extends KeySourceOptions {
  /** Clock for exp/nbf/iat checks (tests). */
  now?: () => Date;
  metrics?: AuthnMetrics;
  log?: Logger;
  /** Verified tokens remembered until exp (token-cache.ts); `{ maxEntries: 0 }` verifies every request. */
  tokenCache?: Omit<TokenCacheOptions, 'onEvent'>;
}

export interface VerifyContext {
  /** Request URL (path and query): a token in the query is refused. */
  url?: string;
}

export interface TokenVerifier {
  /** The caller proven by the Authorization header; throws AuthenticationError otherwise. */
  verify(authorization: string | undefined, context?: VerifyContext): Promise<CallerIdentity>;
  /** The JWKS URL in use (configured or discovered), once known. */
  jwksUri(): string | undefined;
}

export function createTokenVerifier(identity: Identity, opts: TokenVerifierOptions = {}): TokenVerifier {
  const algorithms: string[] = identity.algorithms?.length ? [...identity.algorithms] : [...safeAlgorithms];
  const unsafe = algorithms.filter((a) => !(safeAlgorithms as readonly string[]).includes(a));
  if (unsafe.length) throw new TypeError(`identity.algorithms: ${unsafe.join(', ')} not allowed; expected a subset of ${safeAlgorithms.join(', ')}`);
  const skewText = identity.clockSkew ?? defaultClockSkew;
  const skewMs = parseDuration(skewText);
  const maxLifetimeMs = identity.maxTokenLifetime ? parseDuration(identity.maxTokenLifetime) : undefined;
  const now = opts.now ?? (() => new Date());
  const keys = createKeySource(identity.issuer, identity.jwksUri, opts);
  const requiredClaims = maxLifetimeMs === undefined ? ['exp'] : ['exp', 'iat'];
  const cache = new VerifiedTokenCache({ ...opts.tokenCache, ...(opts.metrics ? { onEvent: (event) => opts.metrics!.tokenCacheTotal.inc({ event }) } : {}) });

  const iso = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : 'an invalid time');

  function mapJoseError(err: unknown, alg: string): AuthenticationError {
    if (err instanceof AuthenticationError) return err;
    if (err instanceof KeySourceError) {
      return new AuthenticationError({
        status: 503, error: 'temporarily_unavailable', reason: 'jwks_unavailable',
        description: `signing keys of issuer ${identity.issuer} are unavailable; retry later`,
      }, { cause: err });
    }
    const e = err as { code?: string; claim?: string; reason?: string; payload?: JWTPayload; message?: string };
    switch (e.code) {
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return invalidToken('unknown_key', `no key of issuer ${identity.issuer} matches the token's kid for alg ${alg}`, err);
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        return invalidToken('bad_signature', `signature does not verify with the keys of issuer ${identity.issuer}`, err);
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return invalidToken('alg_not_allowed', `alg ${alg} is not accepted; accepted: ${algorithms.join(', ')}`, err);
      case 'ERR_JWT_EXPIRED':
        return invalidToken('expired', `token expired at ${iso(e.payload?.exp)} (clock skew ${skewText})`, err);
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (e.reason === 'missing') return invalidToken('missing_claim', `${e.claim} is missing`, err);
        if (e.reason === 'invalid') return invalidToken('invalid_claim', `${e.claim} is not a valid NumericDate`, err);
        if (e.claim === 'iss') return invalidToken('issuer_mismatch', `iss is not ${identity.issuer}`, err);
        if (e.claim === 'aud') return invalidToken('audience_mismatch', `aud does not contain ${identity.audience}`, err);
        if (e.claim === 'nbf') return invalidToken('not_yet_valid', `token is not valid before ${iso(e.payload?.nbf)} (clock skew ${skewText})`, err);
        return invalidToken('invalid_claim', `${e.claim} check failed`, err);
      case 'ERR_JOSE_NOT_SUPPORTED':
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        // jose's messages for these are fixed texts about structure, never token content.
        return invalidToken('malformed_token', `token is not a valid JWS: ${e.message}`, err);
      default:
        return invalidToken('malformed_token', 'token could not be verified', err);
    }
  }

  /** A token verified before, while its entry holds (token-cache.ts), else verified now and remembered. */
  async function cachedVerify(token: string): Promise<CallerIdentity> {
    if (!cache.enabled) return (await verifyToken(token)).caller;
    const key = VerifiedTokenCache.keyOf(token);
    const atMs = now().getTime();
    const hit = cache.get(key, keys.generation(), atMs, skewMs);
    if (hit) return hit;
    const before = keys.generation();
    const { caller, payload } = await verifyToken(token);
    const times = {
      exp: payload.exp as number,
      ...(typeof payload.nbf === 'number' ? { nbf: payload.nbf } : {}),
      ...(typeof payload.iat === 'number' ? { iat: payload.iat } : {}),
    };
    // A fetch that began during the verification (before.usable false, or a new id) stores nothing.
    if (before.usable) cache.set(key, frozen(caller), times, before.id, keys.generation(), now().getTime());
    return caller;
  }

  async function verifyToken(token: string): Promise<{ caller: CallerIdentity; payload: JWTPayload }> {
    const segments = token.split('.').length;
    if (segments === 5) throw invalidToken('encrypted_token', 'token is encrypted (JWE); only signed JWTs (JWS) are accepted');
    if (segments !== 3) throw invalidToken('malformed_token', 'token is not a compact JWS (header.payload.signature)');
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw invalidToken('malformed_token', 'token header is not base64url-encoded JSON');
    }
    if (typeof alg !== 'string' || !algorithms.includes(alg)) {
      const shown = typeof alg === 'string' && /^[A-Za-z0-9-]{1,16}$/.test(alg) ? alg : '(unrecognised)';
      throw invalidToken('alg_not_allowed', `alg ${shown} is not accepted; accepted: ${algorithms.join(', ')}`);
    }
    const at = now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys.getKey, {
        algorithms, issuer: identity.issuer, audience: identity.audience,
        clockTolerance: skewMs / 1000, currentDate: at, requiredClaims,
      }));
    } catch (err) {
      throw mapJoseError(err, alg);
    }
    const nowSec = at.getTime() / 1000;
    if (typeof payload.iat === 'number' && payload.iat > nowSec + skewMs / 1000) {
      throw invalidToken('issued_in_future', `iat ${iso(payload.iat)} is in the future (clock skew ${skewText})`);
    }
    if (maxLifetimeMs !== undefined && ((payload.exp as number) - (payload.iat as number)) * 1000 > maxLifetimeMs) {
      throw invalidToken('lifetime_exceeded', `token lifetime (exp - iat) exceeds maxTokenLifetime ${identity.maxTokenLifetime}`);
    }
    const forbidden = forbiddenScopesIn(scopesOf(payload), identity.forbiddenScopes);
    if (forbidden.length) throw invalidToken('forbidden_scope', `token carries forbidden scope ${forbidden.join(' ')}; request a token without it`);
    return { caller: toCallerIdentity(identity, payload), payload };
  }

  return {
    async verify(authorization, context) {
      try {
        assertNoTokenInQuery(context?.url);
        const caller = await cachedVerify(bearerToken(authorization));
        opts.metrics?.authnTotal.inc({ result: 'accepted', reason: 'ok' });
        return caller;
      } catch (err) {
        const e = err instanceof AuthenticationError ? err : mapJoseError(err, '');
        opts.metrics?.authnTotal.inc({ result: 'refused', reason: e.reason });
        if (e.reason === 'jwks_unavailable') opts.log?.warn({ ...e.toLog(), cause: (e.cause as Error | undefined)?.message }, 'cannot fetch signing keys');
        else opts.log?.debug(e.toLog(), 'bearer token refused');
        throw e;
      }
    },
    jwksUri: () => keys.jwksUri(),
  };
}

/** A cached caller is shared by every request presenting the token: nothing may change it. */
function frozen(caller: CallerIdentity): CallerIdentity {
  Object.freeze(caller.roles);
  Object.freeze(caller.scopes);
  return Object.freeze(caller);
}
