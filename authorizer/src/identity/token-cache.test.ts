import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../api/v1alpha1/index.ts';
import type { CallerIdentity } from '../gate/types.ts';
import { AuthenticationError } from './errors.ts';
import type { FetchLike } from './keys.ts';
import { createAuthnMetrics } from './metrics.ts';
import { VerifiedTokenCache, type KeyGeneration } from './token-cache.ts';
import { createTokenVerifier, type TokenVerifierOptions } from './verifier.ts';

const identity: Identity = { issuer: 'https://idp.example', audience: 'https://gw.example/mcp', jwksUri: 'https://idp.example/jwks' };
const t0 = Date.parse('2026-12-01T12:00:00Z');

async function keyPair(kid: string): Promise<{ key: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { key: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

/** The issuer's JWKS endpoint: serves `keys` (change it to rotate), counts fetches. */
function jwksEndpoint(keys: JWK[]) {
  const served = { keys, fetches: 0 };
  const fetch: FetchLike = async (url) => {
    if (url !== identity.jwksUri) return new Response('', { status: 404 });
    served.fetches++;
    return Response.json({ keys: served.keys });
  };
  return { served, fetch };
}

function mint(key: CryptoKey, kid: string, claims: { sub?: string; exp?: number; nbf?: number; iat?: number } = {}): Promise<string> {
  const iat = claims.iat ?? t0 / 1000;
  const jwt = new SignJWT({ sub: claims.sub ?? 'alice', azp: 'agent-1' })
    .setProtectedHeader({ alg: 'ES256', kid }).setIssuer(identity.issuer).setAudience(identity.audience)
    .setIssuedAt(iat).setExpirationTime(claims.exp ?? iat + 3600);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

function verifierWith(fetch: FetchLike, clock: { ms: number }, opts: Partial<TokenVerifierOptions> = {}) {
  const registry = new Registry();
  const metrics = createAuthnMetrics(registry);
  const v = createTokenVerifier(identity, { fetch, now: () => new Date(clock.ms), metrics, jwksCooldownMs: 0, ...opts });
  const count = async (event: string) => (await metrics.tokenCacheTotal.get()).values.find((x) => x.labels.event === event)?.value ?? 0;
  return { v, count };
}

const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e instanceof AuthenticationError ? e.reason : `unexpected: ${String(e)}`));

describe('verified-token cache in the verifier', () => {
  it('answers a token verified before from the cache, and a token differing only in its signature misses and is refused', async () => {
    const k1 = await keyPair('k1');
    const { fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock);
    const token = await mint(k1.key, 'k1');
    await v.verify(`Bearer ${token}`); // keys fetched during this one: not stored
    await v.verify(`Bearer ${token}`);
    expect(await count('hit')).toBe(0);
    expect(await v.verify(`Bearer ${token}`)).toMatchObject({ subject: 'alice', agent: 'agent-1' });
    expect(await count('hit')).toBe(1);
    // Same header and payload, another signature (a character inside it changed; the last one
    // carries unused bits, so changing it may leave the signature bytes as they were): another key.
    const at = token.length - 10;
    const tampered = token.slice(0, at) + (token[at] === 'A' ? 'Q' : 'A') + token.slice(at + 1);
    expect(await refusal(v.verify(`Bearer ${tampered}`))).toBe('bad_signature');
    // Same header and signature, another payload: also another key, and a bad signature.
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'mallory', azp: 'agent-1', iss: identity.issuer, aud: identity.audience, iat: t0 / 1000, exp: t0 / 1000 + 3600 })).toString('base64url')}.${s}`;
    expect(await refusal(v.verify(`Bearer ${forged}`))).toBe('bad_signature');
    expect(await count('hit')).toBe(1);
  });

  it('stops answering a token from the cache once it expires, and refuses it as expired', async () => {
    const k1 = await keyPair('k1');
    const { fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock, { tokenCache: { maxAgeMs: 24 * 3600_000 } });
    const token = await mint(k1.key, 'k1', { exp: t0 / 1000 + 60 });
    await v.verify(`Bearer ${token}`);
    await v.verify(`Bearer ${token}`);
    await v.verify(`Bearer ${token}`);
    expect(await count('hit')).toBe(1);
    clock.ms = t0 + 120_000; // past exp and the 30 s skew
    expect(await refusal(v.verify(`Bearer ${token}`))).toBe('expired');
    expect(await refusal(v.verify(`Bearer ${token}`))).toBe('expired');
    expect(await count('hit')).toBe(1);
  });

  it('re-verifies after the cap even though exp is far away', async () => {
    const k1 = await keyPair('k1');
    const { fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock, { tokenCache: { maxAgeMs: 10_000 } });
    const token = await mint(k1.key, 'k1');
    await v.verify(`Bearer ${token}`);
    await v.verify(`Bearer ${token}`); // stored
    clock.ms += 11_000;
    const misses = await count('miss');
    await v.verify(`Bearer ${token}`);
    expect(await count('hit')).toBe(0);
    expect(await count('miss')).toBe(misses + 1);
  });

  it('no longer accepts from the cache a token whose key was rotated out of the issuer\'s JWKS', async () => {
    const k1 = await keyPair('k1');
    const k2 = await keyPair('k2');
    const { served, fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock);
    const old = await mint(k1.key, 'k1');
    await v.verify(`Bearer ${old}`);
    await v.verify(`Bearer ${old}`);
    expect(await v.verify(`Bearer ${old}`)).toMatchObject({ subject: 'alice' });
    expect(await count('hit')).toBe(1);
    // The issuer rotates: k1 removed, k2 added. A token signed with k2 makes the verifier refetch.
    served.keys = [k2.jwk];
    expect(await v.verify(`Bearer ${await mint(k2.key, 'k2', { sub: 'bob' })}`)).toMatchObject({ subject: 'bob' });
    expect(await refusal(v.verify(`Bearer ${old}`))).toBe('unknown_key');
    expect(await count('hit')).toBe(1);
  });

  it('never uses an entry beyond the life of the key set that verified it', async () => {
    const k1 = await keyPair('k1');
    const { served, fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock, { jwksCacheMaxAgeMs: 50 });
    const token = await mint(k1.key, 'k1');
    await v.verify(`Bearer ${token}`);
    await v.verify(`Bearer ${token}`);
    // The key set's cache life (jose keeps it on the real clock) runs out; the issuer dropped k1.
    served.keys = [];
    await new Promise((r) => setTimeout(r, 80));
    expect(await refusal(v.verify(`Bearer ${token}`))).toBe('unknown_key');
    expect(await count('hit')).toBe(0);
  });

  it('keeps at most maxEntries tokens, evicting the least recently used', async () => {
    const k1 = await keyPair('k1');
    const { fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock, { tokenCache: { maxEntries: 2 } });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((sub) => mint(k1.key, 'k1', { sub })));
    await v.verify(`Bearer ${a}`); // fetches the keys: not stored
    for (const t of [a, b]) await v.verify(`Bearer ${t}`);
    await v.verify(`Bearer ${a}`); // hit: a is now the most recent, b the least
    expect(await count('hit')).toBe(1);
    await v.verify(`Bearer ${c}`); // stored, evicts b
    expect(await count('eviction')).toBe(1);
    await v.verify(`Bearer ${a}`);
    await v.verify(`Bearer ${c}`);
    expect(await count('hit')).toBe(3);
    await v.verify(`Bearer ${b}`); // evicted: a miss, verified afresh
    expect(await count('hit')).toBe(3);
  });

  it('never caches a refused token: it is verified (and refused) every time', async () => {
    const k1 = await keyPair('k1');
    const { fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock);
    const wrongAudience = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(identity.issuer).setAudience('https://elsewhere.example').setIssuedAt(t0 / 1000).setExpirationTime(t0 / 1000 + 3600).sign(k1.key);
    for (let i = 0; i < 3; i++) expect(await refusal(v.verify(`Bearer ${wrongAudience}`))).toBe('audience_mismatch');
    expect(await count('hit')).toBe(0);
    expect(await count('miss')).toBe(3);
  });

  it('is off with maxEntries 0: every request is verified', async () => {
    const k1 = await keyPair('k1');
    const { fetch } = jwksEndpoint([k1.jwk]);
    const clock = { ms: t0 };
    const { v, count } = verifierWith(fetch, clock, { tokenCache: { maxEntries: 0 } });
    const token = await mint(k1.key, 'k1', { exp: t0 / 1000 + 60 });
    for (let i = 0; i < 3; i++) await v.verify(`Bearer ${token}`);
    expect(await count('hit') + await count('miss')).toBe(0);
    clock.ms = t0 + 120_000;
    expect(await refusal(v.verify(`Bearer ${token}`))).toBe('expired');
  });
});

describe('VerifiedTokenCache', () => {
  const caller: CallerIdentity = { subject: 'alice', issuer: identity.issuer, roles: [], scopes: [] };
  const keys: KeyGeneration = { id: 1, usable: true };
  const key = VerifiedTokenCache.keyOf('h.p.s');

  it('keys by the SHA-256 of the token, never the token', () => {
    expect(key).toBe('MAomZLy6qQuerO_7t-QPAZosybBQt7yNFI1M18KN9dk');
    expect(key).not.toContain('h.p.s');
    expect(VerifiedTokenCache.keyOf('h.p.t')).not.toBe(key);
  });

  it('re-checks nbf and iat against the clock on every use (a clock set back refuses the entry)', () => {
    const c = new VerifiedTokenCache();
    c.set(key, caller, { exp: t0 / 1000 + 3600, nbf: t0 / 1000, iat: t0 / 1000 }, 1, keys, t0);
    expect(c.get(key, keys, t0, 30_000)).toBe(caller);
    expect(c.get(key, keys, t0 - 60_000, 30_000)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('stores nothing when the key set changed or was being fetched during the verification', () => {
    const c = new VerifiedTokenCache();
    c.set(key, caller, { exp: t0 / 1000 + 3600 }, 1, { id: 2, usable: true }, t0);
    c.set(key, caller, { exp: t0 / 1000 + 3600 }, 1, { id: 1, usable: false }, t0);
    expect(c.size).toBe(0);
    c.set(key, caller, { exp: t0 / 1000 + 3600 }, 1, keys, t0);
    expect(c.get(key, { id: 2, usable: true }, t0, 0)).toBeUndefined();
  });

  it('refuses bad bounds', () => {
    expect(() => new VerifiedTokenCache({ maxEntries: -1 })).toThrow(/maxEntries/);
    expect(() => new VerifiedTokenCache({ maxEntries: 1.5 })).toThrow(/maxEntries/);
    expect(() => new VerifiedTokenCache({ maxAgeMs: Number.NaN })).toThrow(/maxAgeMs/);
  });
});
