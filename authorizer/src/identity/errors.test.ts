import { describe, expect, it } from 'vitest';
import { bearerToken, assertNoTokenInQuery } from './bearer.ts';
import { AuthenticationError, insufficientScope, invalidToken, missingScopes, quote } from './errors.ts';

const prm = 'https://gw.example/.well-known/oauth-protected-resource/mcp';

function caught(fn: () => unknown): AuthenticationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthenticationError) return err;
    throw err;
  }
  throw new Error('expected an AuthenticationError');
}

describe('WWW-Authenticate', () => {
  it('carries no error attribute when no token was sent', () => {
    const e = caught(() => bearerToken(undefined));
    expect(e.status).toBe(401);
    expect(e.error).toBeUndefined();
    expect(e.wwwAuthenticate(prm)).toBe(`Bearer resource_metadata="${prm}"`);
    expect(e.wwwAuthenticate()).toBe('Bearer');
  });
  it('names the error and a description for a bad token', () => {
    const e = invalidToken('audience_mismatch', 'aud does not contain https://gw.example/mcp');
    expect(e.wwwAuthenticate(prm)).toBe(
      `Bearer resource_metadata="${prm}", error="invalid_token", error_description="aud does not contain https://gw.example/mcp"`,
    );
    expect(e.toJSON()).toEqual({ error: 'invalid_token', error_description: 'aud does not contain https://gw.example/mcp' });
  });
  it('asks for the missing scopes with 403 insufficient_scope', () => {
    const e = insufficientScope(['mail:send', 'norg:messaging:bulk'], ['norg:messaging:bulk']);
    expect(e.status).toBe(403);
    expect(e.wwwAuthenticate(prm)).toBe(
      `Bearer resource_metadata="${prm}", error="insufficient_scope", error_description="token lacks scope norg:messaging:bulk", scope="mail:send norg:messaging:bulk"`,
    );
    expect(missingScopes(['mail:send'], ['mail:send', 'norg:messaging:bulk'])).toEqual(['norg:messaging:bulk']);
  });
  it('keeps quoted strings within the RFC 6750 character set', () => {
    expect(quote('a "b" \\c\nd é')).toBe('"a ?b? ?c?d ?"');
  });
});

describe('bearerToken', () => {
  it('takes the token of a Bearer header, scheme case-insensitive', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer  abc-_~+/==')).toBe('abc-_~+/==');
  });
  it('treats another scheme as no token (no error code)', () => {
    const e = caught(() => bearerToken('Basic dXNlcjpwYXNz'));
    expect([e.status, e.error, e.reason]).toEqual([401, undefined, 'missing_token']);
  });
  it('refuses malformed Bearer headers with 400 invalid_request', () => {
    for (const h of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer a=b', `Bearer ${'a'.repeat(17000)}`]) {
      const e = caught(() => bearerToken(h));
      expect([h.slice(0, 12), e.status, e.error, e.reason]).toEqual([h.slice(0, 12), 400, 'invalid_request', 'malformed_header']);
    }
  });
  it('refuses a token in the query', () => {
    const e = caught(() => assertNoTokenInQuery('/mcp?x=1&access_token=abc'));
    expect([e.status, e.error, e.reason]).toEqual([400, 'invalid_request', 'token_in_query']);
    expect(e.description).not.toContain('abc');
    expect(() => assertNoTokenInQuery('/mcp?token=1')).not.toThrow();
    expect(() => assertNoTokenInQuery(undefined)).not.toThrow();
  });
});
