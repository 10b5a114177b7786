import { describe, expect, it } from 'vitest';
import { PolicyVerifiers, metadataUrlOf, policyAuthenticator, verifierFor, GatewayAuthRefusal } from './authenticate.ts';
import { ErrorCodes } from './jsonrpc.ts';
import { PolicyRouter } from './policy-router.ts';
import type { GatewayConfig } from './types.ts';

const identity = { issuer: 'https://issuer.example', audience: 'https://gw.example/mcp', jwksUri: 'https://issuer.example/jwks' };
const gateway = (name: string, server: string, id: GatewayConfig['identity'] | null = identity): GatewayConfig => ({
  policy: { namespace: 'ns', name }, servers: [{ name: server, url: `http://${server}/mcp` }], ...(id ? { identity: id } : {}),
});

describe('PolicyVerifiers', () => {
  it('refuses as unavailable until every policy has loaded', () => {
    const router = new PolicyRouter();
    router.entry('ns/a');
    router.entry('ns/b');
    router.update('ns/a', { gateway: gateway('a', 'one') });
    const v = new PolicyVerifiers(router);
    expect(v.forAll()).toMatchObject({ ok: false, httpStatus: 503, code: ErrorCodes.policyUnavailable, message: expect.stringContaining('ns/b') });
    expect(v.forServer('two')).toMatchObject({ ok: false, httpStatus: 503 });
    expect(new PolicyVerifiers(new PolicyRouter()).forAll()).toMatchObject({ ok: false, httpStatus: 503 });
  });

  it('shares one verifier across policies with the same identity, reused until the settings change', () => {
    const router = new PolicyRouter();
    router.update('ns/a', { gateway: gateway('a', 'one') });
    router.update('ns/b', { gateway: gateway('b', 'two') });
    const v = new PolicyVerifiers(router);
    const first = v.forAll();
    expect(first).toMatchObject({ ok: true, identity });
    expect(v.forServer('one')).toMatchObject({ ok: true, policy: 'ns/a' });
    expect(v.forServer('nowhere')).toMatchObject({ ok: false, httpStatus: 404 });
    const again = v.forAll();
    expect(again.ok && first.ok && again.verifier === first.verifier).toBe(true);
    router.update('ns/a', { gateway: gateway('a', 'one', { ...identity, clockSkew: '5s' }) });
    router.update('ns/b', { gateway: gateway('b', 'two', { ...identity, clockSkew: '5s' }) });
    const changed = v.forAll();
    expect(changed.ok && first.ok && changed.verifier !== first.verifier).toBe(true);
  });

  it('refuses the proxy when the policies authenticate differently, naming them', () => {
    const router = new PolicyRouter();
    router.update('ns/a', { gateway: gateway('a', 'one') });
    router.update('ns/b', { gateway: gateway('b', 'two', { ...identity, issuer: 'https://other.example' }) });
    expect(new PolicyVerifiers(router).forAll()).toMatchObject({ ok: false, httpStatus: 500, message: expect.stringMatching(/ns\/a vs ns\/b.*spec\.identity/) });
  });

  it('refuses a policy without spec.identity', () => {
    const router = new PolicyRouter();
    router.update('ns/a', { gateway: gateway('a', 'one', null) });
    expect(new PolicyVerifiers(router).forServer('one')).toMatchObject({ ok: false, httpStatus: 500, message: expect.stringContaining('no spec.identity') });
  });
});

describe('policyAuthenticator', () => {
  it('throws a 503 refusal before any policy loaded', async () => {
    const router = new PolicyRouter();
    router.entry('ns/a');
    const err = await policyAuthenticator(new PolicyVerifiers(router))({ authorization: undefined, url: '/mcp' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayAuthRefusal);
    expect(err).toMatchObject({ status: 503, code: ErrorCodes.policyUnavailable });
  });

  it('verifies against the route\'s policy, or against the shared identity for a server no policy governs', () => {
    const router = new PolicyRouter();
    router.update('ns/a', { gateway: gateway('a', 'one') });
    const v = new PolicyVerifiers(router);
    expect(verifierFor(v, 'one')).toMatchObject({ ok: true, policy: 'ns/a' });
    // Answered like the proxy answers it (authenticated, then denied as unknown-server), not 404.
    expect(verifierFor(v, 'nowhere')).toMatchObject({ ok: true, identity });
    router.update('ns/b', { gateway: gateway('b', 'two', { ...identity, issuer: 'https://other.example' }) });
    expect(verifierFor(v, 'nowhere')).toMatchObject({ ok: false, httpStatus: 404 });
    expect(verifierFor(v, undefined)).toMatchObject({ ok: false, httpStatus: 500 });
  });

  it('derives no metadata URL from an audience that is not a URL', () => {
    expect(metadataUrlOf('api://toolgate')).toBeUndefined();
    expect(metadataUrlOf('https://gw.example.com/mcp')).toBe('https://gw.example.com/.well-known/oauth-protected-resource/mcp');
  });
});
