// Where the token comes from: the Authorization header with the Bearer scheme only (RFC 6750
// §2.1). MCP authorization forbids tokens in the URL query, so a request carrying one is
// refused outright rather than silently ignored.
import { AuthenticationError, invalidRequest } from './errors.ts';

/** Headers longer than this are refused before any parsing (real JWTs are a few KiB). */
export const maxAuthorizationLength = 16 * 1024;

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 7235).
const bearerPattern = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw new AuthenticationError({ status: 401, reason: 'missing_token', description: 'no bearer token: send Authorization: Bearer <token>' });
  }
  if (authorization.length > maxAuthorizationLength) {
    throw invalidRequest('malformed_header', `Authorization header is longer than ${maxAuthorizationLength} bytes`);
  }
  const scheme = /^\S+/.exec(authorization)?.[0] ?? '';
  if (scheme.toLowerCase() !== 'bearer') {
    // Another scheme is not an error in the bearer sense: the challenge carries no error code.
    throw new AuthenticationError({ status: 401, reason: 'missing_token', description: 'Authorization scheme is not Bearer' });
  }
  const m = bearerPattern.exec(authorization);
  if (!m?.[1]) throw invalidRequest('malformed_header', 'Authorization header is not of the form "Bearer <token>"');
  return m[1];
}

/** Refuse `access_token` in the query (RFC 6750 §2.3 is disallowed by MCP authorization). */
export function assertNoTokenInQuery(url: string | undefined): void {
  if (!url) return;
  const q = url.indexOf('?');
  if (q < 0) return;
  const params = new URLSearchParams(url.slice(q + 1).split('#')[0]);
  if (params.has('access_token')) {
    throw invalidRequest('token_in_query', 'access_token in the URL query is not accepted: send Authorization: Bearer <token>');
  }
}
