import { describe, expect, it } from 'vitest';
import { bundleUrl, etagRevision, gatewayConfigOf, parseBundleName, refusalReason } from './parse.ts';

describe('bundle names and URLs', () => {
  it('accepts <namespace>/<name> and refuses anything else, saying what is expected', () => {
    expect(parseBundleName('agents/acme')).toEqual({ namespace: 'agents', name: 'acme' });
    expect(parseBundleName('agents/acme.v2')).toEqual({ namespace: 'agents', name: 'acme.v2' });
    for (const bad of ['acme', 'a/b/c', '/acme', 'agents/', 'Agents/acme', 'agents/../x', 'ag_ents/acme']) {
      expect(() => parseBundleName(bad), bad).toThrow(/expected "<namespace>\/<name>"/);
    }
  });

  it('puts the bundle under /bundles/ of the service, keeping a path prefix', () => {
    expect(bundleUrl('http://op.svc:8080', 'agents/acme').href).toBe('http://op.svc:8080/bundles/agents/acme');
    expect(bundleUrl('https://op.svc/api/', 'agents/acme').href).toBe('https://op.svc/api/bundles/agents/acme');
    expect(() => bundleUrl('ftp://op.svc', 'agents/acme')).toThrow(/must be http or https/);
    expect(() => bundleUrl('http://user:pw@op.svc', 'agents/acme')).toThrow(/credentials/);
  });
});

describe('etagRevision', () => {
  it('unquotes strong and weak tags', () => {
    expect(etagRevision('"abc"')).toBe('abc');
    expect(etagRevision('W/"abc"')).toBe('abc');
    expect(etagRevision('abc')).toBeUndefined();
    expect(etagRevision('""')).toBeUndefined();
    expect(etagRevision(undefined)).toBeUndefined();
  });
});

describe('gatewayConfigOf', () => {
  const gateway = { policy: { namespace: 'agents', name: 'acme' }, servers: [{ name: 'gmail', url: 'http://gmail' }] };

  it('returns data.toolgate.gateway, or undefined when the bundle has none', () => {
    expect(gatewayConfigOf({ toolgate: { gateway } }, 'agents/acme')).toEqual(gateway);
    expect(gatewayConfigOf({ toolgate: { rules: [] } }, 'agents/acme')).toBeUndefined();
    expect(gatewayConfigOf({}, 'agents/acme')).toBeUndefined();
  });

  it('refuses another policy\'s config and malformed ones, naming the field and what it must hold', () => {
    const of = (g: unknown) => () => gatewayConfigOf({ toolgate: { gateway: g } }, 'agents/acme');
    expect(() => gatewayConfigOf({ toolgate: { gateway } }, 'agents/other')).toThrow('data.toolgate.gateway.policy is agents/acme, expected agents/other');
    expect(of([])).toThrow('data.toolgate.gateway: must be object, got array');
    expect(of({ ...gateway, policy: { name: 'acme' } })).toThrow('data.toolgate.gateway.policy.namespace: is required');
    expect(of({ ...gateway, servers: {} })).toThrow('data.toolgate.gateway.servers: must be array, got object');
    expect(of({ ...gateway, servers: [{ url: 'x' }] })).toThrow('data.toolgate.gateway.servers[0].name: is required');
    expect(of({ ...gateway, servers: [{ name: 'gmail', url: 'ftp://gmail' }] })).toThrow('data.toolgate.gateway.servers[0].url: must match pattern "^https?://"');
    expect(of({ ...gateway, servers: [{ name: 'gmail', url: 'http://gmail', transport: 'stdio' }] })).toThrow('data.toolgate.gateway.servers[0].transport: must be one of "streamable-http", got "stdio"');
    expect(of({ ...gateway, identity: 'x' })).toThrow('data.toolgate.gateway.identity: must be object, got string');
    expect(of({ ...gateway, identity: { issuer: 'https://idp' } })).toThrow('data.toolgate.gateway.identity.audience: is required');
  });
});

describe('refusalReason', () => {
  it('quotes the service\'s message without control characters', () => {
    expect(refusalReason(403, Buffer.from(JSON.stringify({ code: 'forbidden', message: 'system:serviceaccount:a:b may not pull bundles' }))))
      .toBe('HTTP 403: system:serviceaccount:a:b may not pull bundles');
    expect(refusalReason(502, Buffer.from('<html>bad gateway</html>'))).toBe('HTTP 502');
    expect(refusalReason(500, Buffer.from(JSON.stringify({ message: 'line\nforged' })))).toBe('HTTP 500: line forged');
  });
});
