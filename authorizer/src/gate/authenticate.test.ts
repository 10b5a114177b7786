import { describe, expect, it } from 'vitest';
import { PolicyVerifiers, metadataUrlOf, proxyAuthenticator, GatewayAuthRefusal } from './authenticate.ts';
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

describe('proxyAuthenticator', () => {
  it('throws a 503 refusal the proxy can answer before any policy loaded', async () => {
    const router = new PolicyRouter();
    router.entry('ns/a');
    const err = await proxyAuthenticator(new PolicyVerifiers(router))({ headers: {}, url: '/mcp' } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayAuthRefusal);
    expect((err as GatewayAuthRefusal).status).toBe(503);
    expect((err as GatewayAuthRefusal).toJSON()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('names the metadata of the policy audience in challenges', async () => {
    const router = new PolicyRouter();
    router.update('ns/a', { gateway: gateway('a', 'one') });
    const err = await proxyAuthenticator(new PolicyVerifiers(router))({ headers: {}, url: '/mcp' } as never).catch((e: unknown) => e) as { status: number; wwwAuthenticate(u?: string): string };
    expect(err.status).toBe(401);
    expect(err.wwwAuthenticate()).toBe('Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp"');
    expect(err.wwwAuthenticate('https://fixed/x')).toContain('resource_metadata="https://fixed/x"');
  });

  it('derives no metadata URL from an audience that is not a URL', () => {
    expect(metadataUrlOf('api://toolgate')).toBeUndefined();
  });
});
