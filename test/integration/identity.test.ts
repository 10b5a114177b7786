// Bearer-token verification against a real issuer on loopback: jose keys published as JWKS,
// discovered through OIDC / RFC 8414 metadata, rotated while the verifier runs. Every token
// rule of the authorizer is exercised with a token built the way an attacker would build it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { Identity } from '../../api/v1alpha1/index.ts';
import { AuthenticationError, createAuthnMetrics, createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from '../../authorizer/src/identity/index.ts';
import { generateIssuerKey, startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';

const now = () => Math.floor(Date.now() / 1000);
let idp: TestIssuer;
let identity: Identity;
let verifier: TokenVerifier;
const registry = new Registry();
const metrics = createAuthnMetrics(registry);

beforeAll(async () => {
  idp = await startJwtIssuer({ path: '/realms/test', audience: 'https://gateway.test/mcp' });
  identity = {
    issuer: idp.issuer,
    audience: idp.audience,
    jwksUri: idp.jwksUri,
    algorithms: ['RS256', 'ES256'],
    maxTokenLifetime: '1h',
    forbiddenScopes: ['admin', 'full_access'],
    operatorClaim: 'act.sub',
    roles: [
      { name: 'mailer', subjects: ['agent-mailer'] },
      { name: 'support', subjects: ['user:alice'] },
      { name: 'finance', claimValues: ['finance'] },
      { name: 'ops', subjects: ['user:ops'] },
    ],
  };
  verifier = createTokenVerifier(identity, { metrics });
});
afterAll(() => idp?.close());

const bearer = (t: string) => `Bearer ${t}`;
async function refusal(v: TokenVerifier, authorization: string | undefined, url?: string): Promise<AuthenticationError> {
  const err = await v.verify(authorization, { url }).then(() => undefined, (e: unknown) => e);
  if (!(err instanceof AuthenticationError)) throw new Error(`expected an AuthenticationError, got ${String(err)}`);
  // Nothing of the token may leak into what the client or the log sees.
  const token = authorization?.split(' ')[1];
  for (const part of token?.split('.').filter((p) => p.length > 8) ?? []) {
    expect(err.description).not.toContain(part);
    expect(err.wwwAuthenticate('https://gateway.test/.well-known/oauth-protected-resource/mcp')).not.toContain(part);
  }
  return err;
}

describe('valid tokens', () => {
  it('yield the CallerIdentity of agent, operator, roles and scopes (RS256 and ES256)', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const exp = now() + 300;
      const token = await idp.mint(
        { sub: 'svc-mailer', azp: 'agent-mailer', act: { sub: 'user:alice' }, roles: ['finance'], scope: 'mail:read mail:send', exp, jti: `j-${alg}` },
        { alg },
      );
      expect(await verifier.verify(bearer(token))).toEqual({
        subject: 'svc-mailer', issuer: idp.issuer, agent: 'agent-mailer', operator: 'user:alice',
        roles: ['mailer', 'support', 'finance'], scopes: ['mail:read', 'mail:send'], expiresAt: new Date(exp * 1000), tokenId: `j-${alg}`,
      });
    }
  });
  it('take the agent from client_id without azp, scopes from scp, roles from sub', async () => {
    const c = await verifier.verify(bearer(await idp.mint({ sub: 'user:ops', client_id: 'cli-7', scp: ['a', 'b'] })));
    expect([c.agent, c.operator, c.roles, c.scopes]).toEqual(['cli-7', undefined, ['ops'], ['a', 'b']]);
  });
  it('accept an aud array containing the resource, and times within the clock skew', async () => {
    await expect(verifier.verify(bearer(await idp.mint({ aud: ['https://other.test', idp.audience] })))).resolves.toMatchObject({ subject: 'user:alice' });
    await expect(verifier.verify(bearer(await idp.mint({ exp: now() - 10 })))).resolves.toMatchObject({ subject: 'user:alice' });
    await expect(verifier.verify(bearer(await idp.mint({ nbf: now() + 10 })))).resolves.toMatchObject({ subject: 'user:alice' });
  });
});

describe('refused requests', () => {
  it('without a bearer token: 401 and a challenge with no error', async () => {
    for (const h of [undefined, '', 'Basic dXNlcjpwYXNz']) {
      const e = await refusal(verifier, h);
      expect([e.status, e.error, e.reason]).toEqual([401, undefined, 'missing_token']);
      expect(e.wwwAuthenticate('https://gw/.well-known/oauth-protected-resource/mcp')).toBe('Bearer resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp"');
    }
  });
  it('with a malformed header or a token in the query: 400 invalid_request', async () => {
    const token = await idp.mint();
    const a = await refusal(verifier, 'Bearer two tokens');
    expect([a.status, a.error, a.reason]).toEqual([400, 'invalid_request', 'malformed_header']);
    const b = await refusal(verifier, bearer(token), `/mcp?access_token=${token}`);
    expect([b.status, b.error, b.reason]).toEqual([400, 'invalid_request', 'token_in_query']);
  });
});

describe('hostile tokens are refused with 401 invalid_token and a description naming the fault', () => {
  const cases: [string, () => Promise<string>, string, RegExp][] = [
    ['not a JWT', async () => 'not-a-jwt', 'malformed_token', /compact JWS/],
    ['garbage header', async () => 'e30x.e30.c2ln', 'malformed_token', /header/],
    ['JWE instead of JWS', () => idp.hostile.encrypted(), 'encrypted_token', /encrypted \(JWE\)/],
    ['alg none', () => idp.hostile.unsecured(), 'alg_not_allowed', /alg none is not accepted; accepted: RS256, ES256/],
    ['HS256 keyed with the RSA public key', () => idp.hostile.hsWithPublicKey(), 'alg_not_allowed', /alg HS256 is not accepted/],
    ['an asymmetric alg outside the allow-list', async () => idp.mint({}, { key: await generateIssuerKey('PS256') }), 'alg_not_allowed', /alg PS256/],
    ['unknown kid', () => idp.hostile.unknownKid(), 'unknown_key', /no key of issuer .* matches the token's kid for alg RS256/],
    ['ES256 signature naming an RSA key', () => idp.hostile.algKeyMismatch(), 'unknown_key', /for alg ES256/],
    ['a published kid signed by another key', () => idp.hostile.borrowedKid(), 'bad_signature', /signature does not verify/],
    ['payload changed after signing', () => idp.hostile.tampered(), 'bad_signature', /signature does not verify/],
    ['wrong issuer', () => idp.mint({ iss: 'https://evil.test' }), 'issuer_mismatch', /^iss is not http:\/\/127\.0\.0\.1:\d+\/realms\/test$/],
    ['wrong audience', () => idp.mint({ aud: 'https://other.test/mcp' }), 'audience_mismatch', /^aud does not contain https:\/\/gateway\.test\/mcp$/],
    ['no audience', () => idp.mint({}, { omit: ['aud'] }), 'missing_claim', /^aud is missing$/],
    ['no exp', () => idp.mint({}, { omit: ['exp'] }), 'missing_claim', /^exp is missing$/],
    ['exp not a number', () => idp.mint({ exp: 'tomorrow' as unknown as number }), 'invalid_claim', /exp is not a valid NumericDate/],
    ['expired beyond the skew', () => idp.mint({ exp: now() - 60 }), 'expired', /token expired at .* \(clock skew 30s\)/],
    ['nbf beyond the skew', () => idp.mint({ nbf: now() + 120 }), 'not_yet_valid', /not valid before/],
    ['iat in the future', () => idp.mint({}, { iat: now() + 120 }), 'issued_in_future', /iat .* is in the future/],
    ['lifetime above maxTokenLifetime', () => idp.mint({}, { lifetime: 2 * 3600 }), 'lifetime_exceeded', /exceeds maxTokenLifetime 1h/],
    ['no iat while maxTokenLifetime is set', () => idp.mint({}, { omit: ['iat'] }), 'missing_claim', /^iat is missing$/],
    ['forbidden scope in scope', () => idp.mint({ scope: 'mail:read admin' }), 'forbidden_scope', /forbidden scope admin/],
    ['forbidden scope in scp', () => idp.mint({ scp: ['full_access'] }), 'forbidden_scope', /forbidden scope full_access/],
    ['no sub', () => idp.mint({}, { omit: ['sub'] }), 'missing_claim', /sub is missing/],
  ];
  it.each(cases)('%s', async (_name, make, reason, description) => {
    const e = await refusal(verifier, bearer(await make()));
    expect([e.status, e.error, e.reason]).toEqual([401, 'invalid_token', reason]);
    expect(e.description).toMatch(description);
    expect(e.wwwAuthenticate('https://gw/prm')).toBe(`Bearer resource_metadata="https://gw/prm", error="invalid_token", error_description="${e.description}"`);
  });

  it('counts every outcome by reason', async () => {
    const value = async (labels: { result: string; reason: string }) =>
      (await metrics.authnTotal.get()).values.find((v) => v.labels.result === labels.result && v.labels.reason === labels.reason)?.value ?? 0;
    const before = await value({ result: 'refused', reason: 'audience_mismatch' });
    await refusal(verifier, bearer(await idp.mint({ aud: 'x' })));
    expect(await value({ result: 'refused', reason: 'audience_mismatch' })).toBe(before + 1);
    expect(await value({ result: 'accepted', reason: 'ok' })).toBeGreaterThan(0);
    expect(await registry.metrics()).toContain('toolgate_authorizer_authn_total{result="refused",reason="alg_not_allowed"}');
    // identity.jwksUri is configured: no discovery at all.
    expect(idp.fetches.openid + idp.fetches.oauth).toBe(0);
  });
});

describe('clock', () => {
  it('uses the injected clock for exp, nbf and iat', async () => {
    const token = await idp.mint({}, { lifetime: 300 });
    const later = createTokenVerifier(identity, { now: () => new Date(Date.now() + 600_000) });
    expect((await refusal(later, bearer(token))).reason).toBe('expired');
    const earlier = createTokenVerifier(identity, { now: () => new Date(Date.now() - 600_000) });
    expect((await refusal(earlier, bearer(token))).reason).toBe('issued_in_future');
  });
});

describe('keys: discovery, caching, rotation', () => {
  const fresh = async (opts: Parameters<typeof startJwtIssuer>[0], vopts: TokenVerifierOptions = {}, extra: Partial<Identity> = {}) => {
    const issuer = await startJwtIssuer(opts);
    const v = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, ...extra }, vopts);
    return { issuer, v };
  };

  it('discovers the JWKS through OIDC discovery, then RFC 8414 metadata', async () => {
    const oidc = await fresh({ path: '/tenant-a', discovery: { oauth: false } });
    const oauth = await fresh({ path: '/tenant-b', discovery: { openid: false } });
    try {
      for (const { issuer, v } of [oidc, oauth]) {
        await expect(v.verify(bearer(await issuer.mint()))).resolves.toMatchObject({ issuer: issuer.issuer });
        expect(v.jwksUri()).toBe(issuer.jwksUri);
      }
      expect([oidc.issuer.fetches.openid, oidc.issuer.fetches.oauth]).toEqual([1, 0]);
      expect([oauth.issuer.fetches.openid, oauth.issuer.fetches.oauth]).toEqual([0, 1]);
    } finally {
      await Promise.all([oidc.issuer.close(), oauth.issuer.close()]);
    }
  });

  it('refuses (503) when discovery speaks for another issuer, or when the JWKS is down, and recovers', async () => {
    const { issuer, v } = await fresh({}, { discoveryRetryMs: 0 });
    try {
      issuer.discoveryIssuer = 'https://evil.test';
      const e = await refusal(v, bearer(await issuer.mint()));
      expect([e.status, e.error, e.reason]).toEqual([503, 'temporarily_unavailable', 'jwks_unavailable']);
      expect(issuer.fetches.jwks).toBe(0);
      issuer.discoveryIssuer = undefined;
      issuer.failJwks(500);
      expect((await refusal(v, bearer(await issuer.mint()))).reason).toBe('jwks_unavailable');
      issuer.failJwks(0);
      await expect(v.verify(bearer(await issuer.mint()))).resolves.toMatchObject({ subject: 'user:alice' });
    } finally {
      await issuer.close();
    }
  });

  it('fetches the JWKS once for many requests, and unknown kids do not cause refetch storms', async () => {
    const { issuer, v } = await fresh({}, {}, { jwksUri: undefined });
    try {
      for (let i = 0; i < 25; i++) await v.verify(bearer(await issuer.mint({ sub: `u${i}` }, { alg: i % 2 ? 'ES256' : 'RS256' })));
      for (let i = 0; i < 5; i++) expect((await refusal(v, bearer(await issuer.hostile.unknownKid()))).reason).toBe('unknown_key');
      expect([issuer.fetches.openid, issuer.fetches.jwks]).toEqual([1, 1]);
    } finally {
      await issuer.close();
    }
  });

  it('accepts a newly added key after a refetch and refuses a retired one', async () => {
    const { issuer, v } = await fresh({}, { jwksCooldownMs: 0 }, { jwksUri: undefined });
    try {
      const old = issuer.keys[0];
      if (!old) throw new Error('issuer has no key');
      const oldToken = await issuer.mint({}, { key: old });
      await v.verify(bearer(oldToken));
      expect(issuer.fetches.jwks).toBe(1);

      const next = await issuer.addKey('ES256', 'rotated-1');
      await expect(v.verify(bearer(await issuer.mint({ sub: 'rotated' }, { key: next })))).resolves.toMatchObject({ subject: 'rotated' });
      expect(issuer.fetches.jwks).toBe(2);

      issuer.retireKey(old.kid);
      // The retired key stays valid until the set is refetched; the next new kid forces that.
      await v.verify(bearer(oldToken));
      const third = await issuer.addKey('RS256', 'rotated-2');
      await v.verify(bearer(await issuer.mint({}, { key: third })));
      expect(issuer.fetches.jwks).toBe(3);
      expect((await refusal(v, bearer(oldToken))).reason).toBe('unknown_key');
    } finally {
      await issuer.close();
    }
  });
});
