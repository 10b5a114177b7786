// Why a caller was refused, shaped for three readers: the client (RFC 6750 / RFC 9728
// WWW-Authenticate header and an OAuth error code), the operator (a stable reason code for
// logs and the authn metric), and the attacker (nothing: descriptions name the claim and the
// expected value from our own configuration, never the token or values taken from it).

/** Stable, low-cardinality reason codes: the `reason` label of the authn metric and log field. */
export const authnReasons = [
  'missing_token', // no Authorization header, or another scheme (RFC 6750 §3.1: no error code)
  'malformed_header', // Bearer header that is not `Bearer <b64token>`
  'token_in_query', // access_token in the URL (MCP authorization forbids it)
  'malformed_token', // not a compact JWS
  'encrypted_token', // a JWE: only signed tokens are accepted
  'alg_not_allowed', // alg outside the allow-list (none, HS*, or not configured)
  'unknown_key', // no JWKS key matches kid and alg (also an RSA key asked to verify ES256)
  'bad_signature',
  'jwks_unavailable', // discovery or JWKS fetch failed: we cannot verify, so we refuse
  'missing_claim',
  'invalid_claim', // a claim has the wrong type
  'issuer_mismatch',
  'audience_mismatch',
  'expired',
  'not_yet_valid', // nbf in the future
  'issued_in_future', // iat in the future
  'lifetime_exceeded', // exp - iat above maxTokenLifetime
  'forbidden_scope',
  'insufficient_scope',
] as const;
export type AuthnReason = (typeof authnReasons)[number];

export type OAuthError = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';

export interface AuthenticationErrorInit {
  status: 400 | 401 | 403 | 503;
  /** Absent only when the request carried no bearer token at all (RFC 6750 §3.1). */
  error?: OAuthError;
  reason: AuthnReason;
  description: string;
  /** Scopes the client should request (insufficient_scope). */
  scope?: string[];
}

export class AuthenticationError extends Error {
  readonly status: 400 | 401 | 403 | 503;
  readonly error: OAuthError | undefined;
  readonly reason: AuthnReason;
  readonly description: string;
  readonly scope: string[] | undefined;

  constructor(init: AuthenticationErrorInit, options?: { cause?: unknown }) {
    super(init.description, options);
    this.name = 'AuthenticationError';
    this.status = init.status;
    this.error = init.error;
    this.reason = init.reason;
    this.description = init.description;
    this.scope = init.scope;
  }

  /**
   * The WWW-Authenticate challenge (RFC 6750 §3, RFC 9728 §5.1). resource_metadata points MCP
   * clients at the protected-resource metadata, from which they find the authorization server.
   */
  wwwAuthenticate(resourceMetadataUrl?: string): string {
    const params: string[] = [];
    if (resourceMetadataUrl) params.push(`resource_metadata=${quote(resourceMetadataUrl)}`);
    if (this.error) {
      params.push(`error=${quote(this.error)}`);
      params.push(`error_description=${quote(this.description)}`);
    }
    if (this.scope?.length) params.push(`scope=${quote(this.scope.join(' '))}`);
    return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
  }

  /** OAuth-style error body (RFC 6749 §5.2 field names). */
  toJSON(): { error: string; error_description: string; scope?: string } {
    return {
      error: this.error ?? 'invalid_token',
      error_description: this.description,
      ...(this.scope?.length ? { scope: this.scope.join(' ') } : {}),
    };
  }

  /** Fields for a pino log line. */
  toLog(): { reason: AuthnReason; status: number; error?: string; description: string } {
    return { reason: this.reason, status: this.status, ...(this.error ? { error: this.error } : {}), description: this.description };
  }
}

/**
 * RFC 6750 §3: error_description and scope allow only %x20-21 / %x23-5B / %x5D-7E, so quotes,
 * backslashes, control and non-ASCII characters are replaced rather than escaped.
 */
export function quote(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`;
}

/** 403 for a valid token that lacks a scope the called tool needs (RFC 6750 §3.1). */
export function insufficientScope(requiredScopes: readonly string[], missing: readonly string[] = requiredScopes): AuthenticationError {
  return new AuthenticationError({
    status: 403,
    error: 'insufficient_scope',
    reason: 'insufficient_scope',
    description: `token lacks scope ${missing.join(' ')}`,
    scope: [...requiredScopes],
  });
}

/** Scopes of `required` the caller's token does not carry. */
export function missingScopes(granted: readonly string[], required: readonly string[]): string[] {
  const have = new Set(granted);
  return required.filter((s) => !have.has(s));
}

export function invalidToken(reason: AuthnReason, description: string, cause?: unknown): AuthenticationError {
  return new AuthenticationError({ status: 401, error: 'invalid_token', reason, description }, cause === undefined ? undefined : { cause });
}

export function invalidRequest(reason: AuthnReason, description: string): AuthenticationError {
  return new AuthenticationError({ status: 400, error: 'invalid_request', reason, description });
}
