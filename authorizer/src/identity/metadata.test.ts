import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryUrls } from './keys.ts';
import { protectedResourceMetadata, protectedResourceMetadataHandler, protectedResourceMetadataUrl } from './metadata.ts';

const doc = protectedResourceMetadata({
  resource: 'https://gw.example/mcp',
  authorizationServers: ['https://idp.example'],
  scopesSupported: ['mail:send', 'mail:send', 'norg:messaging:bulk'],
  resourceName: 'toolgate',
});

describe('protected resource metadata', () => {
  it('builds the RFC 9728 document', () => {
    expect(doc).toEqual({
      resource: 'https://gw.example/mcp',
      authorization_servers: ['https://idp.example'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mail:send', 'norg:messaging:bulk'],
      resource_name: 'toolgate',
    });
    expect(() => protectedResourceMetadata({ resource: 'https://gw.example/mcp#x', authorizationServers: ['a'] })).toThrow(/fragment/);
    expect(() => protectedResourceMetadata({ resource: 'https://gw.example/mcp', authorizationServers: [] })).toThrow(/at least one/);
  });
  it('derives the well-known URL by inserting between host and path', () => {
    expect(protectedResourceMetadataUrl('https://gw.example/mcp')).toBe('https://gw.example/.well-known/oauth-protected-resource/mcp');
    expect(protectedResourceMetadataUrl('https://gw.example/')).toBe('https://gw.example/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('https://gw.example:8443/a/b/')).toBe('https://gw.example:8443/.well-known/oauth-protected-resource/a/b');
  });
  it('lists discovery URLs: OIDC appended, OIDC inserted, RFC 8414 inserted', () => {
    expect(discoveryUrls('https://idp.example')).toEqual([
      'https://idp.example/.well-known/openid-configuration',
      'https://idp.example/.well-known/oauth-authorization-server',
    ]);
    expect(discoveryUrls('https://idp.example/realms/a/')).toEqual([
      'https://idp.example/realms/a/.well-known/openid-configuration',
      'https://idp.example/.well-known/openid-configuration/realms/a',
      'https://idp.example/.well-known/oauth-authorization-server/realms/a',
    ]);
  });
});

describe('protected resource metadata handler', () => {
  const other = protectedResourceMetadata({ resource: 'https://gw.example/other', authorizationServers: ['https://idp2.example'] });
  const single = protectedResourceMetadataHandler(doc);
  const multi = protectedResourceMetadataHandler([doc, other]);
  let base = '';
  const server = createServer((req, res) => {
    const h = req.headers['x-multi'] ? multi : single;
    if (!h(req, res)) res.writeHead(418).end();
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('serves the path-suffixed and, for a single resource, the bare well-known path', async () => {
    for (const p of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(base + p);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual(doc);
    }
  });
  it('picks the document by path among several, 404 for unknown paths', async () => {
    const get = (p: string) => fetch(base + p, { headers: { 'x-multi': '1' } });
    expect(await (await get('/.well-known/oauth-protected-resource/other')).json()).toEqual(other);
    expect((await get('/.well-known/oauth-protected-resource')).status).toBe(404);
    const res = await get('/.well-known/oauth-protected-resource/nope');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error_description: string }).error_description).toContain('/nope');
  });
  it('refuses other methods and leaves other paths alone', async () => {
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp`, { method: 'OPTIONS' })).status).toBe(204);
    expect((await fetch(`${base}/mcp`)).status).toBe(418);
    expect((await fetch(`${base}/.well-known/oauth-protected-resourcex`)).status).toBe(418);
  });
});
