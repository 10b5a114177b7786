import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../api/v1alpha1/index.ts';
import { AuthenticationError } from './errors.ts';
import type { FetchLike } from './keys.ts';
import { createTokenVerifier } from './verifier.ts';

const identity: Identity = { issuer: 'https://idp.example', audience: 'https://gw.example/mcp' };

describe('createTokenVerifier configuration', () => {
  it('refuses symmetric or unknown algorithms and bad durations up front', () => {
    const bad = [
      { algorithms: ['HS256'] }, { algorithms: ['RS256', 'none'] }, { clockSkew: '1d' }, { maxTokenLifetime: 'forever' },
    ] as Partial<Identity>[];
    for (const b of bad) expect(() => createTokenVerifier({ ...identity, ...b })).toThrow(TypeError);
  });
});

describe('injected fetch', () => {
  it('discovers and fetches keys through opts.fetch only, once', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const seen: string[] = [];
    const fetch: FetchLike = async (url) => {
      seen.push(url);
      if (url === 'https://idp.example/.well-known/openid-configuration') return Response.json({ issuer: identity.issuer, jwks_uri: 'https://keys.example/jwks' });
      if (url === 'https://keys.example/jwks') return Response.json({ keys: [jwk] });
      return new Response('nope', { status: 404 });
    };
    const v = createTokenVerifier(identity, { fetch });
    const mint = (sub: string) => new SignJWT({ sub, azp: 'agent-1' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(identity.issuer).setAudience(identity.audience)
      .setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect(await v.verify(`Bearer ${await mint('u1')}`)).toMatchObject({ subject: 'u1', agent: 'agent-1', roles: [] });
    expect(await v.verify(`Bearer ${await mint('u2')}`)).toMatchObject({ subject: 'u2' });
    expect(seen).toEqual(['https://idp.example/.well-known/openid-configuration', 'https://keys.example/jwks']);
    expect(v.jwksUri()).toBe('https://keys.example/jwks');
  });

  it('answers 503 when no discovery document exists, without treating the token as bad', async () => {
    const v = createTokenVerifier(identity, { fetch: async () => new Response('', { status: 404 }), discoveryRetryMs: 0 });
    const err = await v.verify('Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 503, error: 'temporarily_unavailable', reason: 'jwks_unavailable' });
  });
});
