// MCP 2026-07-28 through the proxy: the v2 SDK client (@modelcontextprotocol/client 2.4, version
// pinned) → the real proxy (real policy.wasm, jose-signed tokens verified by the identity
// module, the tool catalog listing the upstream with the v2 SDK) → a real 2026-07-28-only server
// built with @modelcontextprotocol/server 2.4 (test/fixtures/mcp-2026/server.ts), which records
// every request that reached it.
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { UpstreamToolCatalog, mcpToolLister } from '../../authorizer/src/catalog/index.ts';
import { ErrorCodes, Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { modernToolLister } from '../../authorizer/src/proxy/stateless/index.ts';
import { fixtureInstructions, fixtureServerInfo, startMcp2026Server, type Mcp2026Server } from '../fixtures/mcp-2026/server.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { audience, loadPolicy, startEverything, type EverythingServer } from './proxy-support.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const version = '2026-07-28';
const meta = { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };

let issuer: TestIssuer;
let upstream: Mcp2026Server;
let catalog: UpstreamToolCatalog;
let proxy: McpProxy;
let token: string;

function policy(url: string): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'team-a', name: 'modern' },
    spec: {
      servers: [{ name: 'fixture', url }],
      policies: [
        { name: 'no-deleting', priority: 10, when: { tools: ['delete-all'] }, action: 'deny' },
        { name: 'echo-allowed', priority: 20, when: { tools: ['echo'] }, action: 'allow' },
        { name: 'reads-allowed', priority: 30, when: { readOnlyHint: true }, action: 'allow' },
      ],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

beforeAll(async () => {
  issuer = await startJwtIssuer({ audience });
  upstream = await startMcp2026Server([{ name: 'echo' }, { name: 'delete-all', annotations: { destructiveHint: true } }, { name: 'status', annotations: { readOnlyHint: true } }]);
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy(upstream.url), 'rev-1');
  const verifier = createTokenVerifier(gateway.identity!, {});
  const upstreamHeaders = async () => ({ authorization: 'Bearer upstream-credential' });
  catalog = new UpstreamToolCatalog({ router, lister: modernToolLister({ headers: upstreamHeaders, log }), log });
  const gate = new Gate({ router, log, catalog, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  proxy = await startMcpProxy({ gate, upstreamHeaders, log });
  token = await issuer.mint({ sub: 'alice', azp: 'agent-1' });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await catalog?.close();
  await upstream?.close();
  await issuer?.close();
});

async function connect(): Promise<Client> {
  const client = new Client({ name: 'v2-client', version: '1.0.0' }, { versionNegotiation: { mode: { pin: version } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const post = (body: unknown, headers: Record<string, string> = {}) => fetch(proxy.url, {
  method: 'POST', body: JSON.stringify(body),
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, ...headers },
});

describe('MCP 2026-07-28 through the proxy (v2 SDK client and server)', () => {
  let client: Client;
  beforeAll(async () => { client = await connect(); });
  afterAll(async () => { await client?.close(); });

  it('negotiates 2026-07-28 and shows the upstream\'s identity (server/discover relayed)', async () => {
    expect(client.getNegotiatedProtocolVersion?.()).toBe(version);
    expect(client.getServerVersion()).toMatchObject(fixtureServerInfo);
    expect(client.getInstructions()).toBe(fixtureInstructions);
    expect(client.getServerCapabilities()).toMatchObject({ tools: { listChanged: true }, prompts: {}, resources: {} });
  });

  it('lists the tools the caller may see, unprefixed, marked cacheScope private', async () => {
    const res = await post({ jsonrpc: '2.0', id: 'l1', method: 'tools/list', params: { _meta: meta } }, { 'mcp-method': 'tools/list' });
    expect(res.status).toBe(200);
    const body = await res.json() as { id: string; result: { tools: Array<{ name: string }>; cacheScope: string; ttlMs: number } };
    expect(body.id).toBe('l1');
    // delete-all is denied to everyone: not shown.
    expect(body.result.tools.map((t) => t.name).sort()).toEqual(['echo', 'status']);
    expect(body.result.cacheScope).toBe('private');
    expect(body.result.ttlMs).toBeGreaterThanOrEqual(0);
    const viaSdk = await client.listTools(undefined, { cacheMode: 'bypass' });
    expect(viaSdk.tools.map((t) => t.name).sort()).toEqual(['echo', 'status']);
  });

  it('relays an allowed tools/call to the upstream, sessionless, with the upstream\'s credentials and none of the caller\'s', async () => {
    const before = upstream.seen.length;
    const r = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    expect(r.content).toEqual([{ type: 'text', text: 'called echo with {"text":"hello"}' }]);
    const reached = upstream.seen.slice(before).filter((s) => (s.body as { method?: string }).method === 'tools/call');
    expect(reached).toHaveLength(1);
    expect(reached[0]!.headers).toMatchObject({ authorization: 'Bearer upstream-credential', 'mcp-protocol-version': version, 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    expect(reached[0]!.headers['mcp-session-id']).toBeUndefined();
  });

  it('refuses a denied tools/call with the policy\'s error, and it never reaches the upstream', async () => {
    const before = upstream.calls().length;
    const err = await client.callTool({ name: 'delete-all', arguments: {} }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ErrorCodes.policyDenied);
    expect((err as Error).message).toMatch(/no-deleting/);
    expect(upstream.calls().length).toBe(before);
  });

  it('refuses a header that disagrees with the body (400, HeaderMismatch) before anything reaches the upstream', async () => {
    const before = upstream.seen.length;
    const res = await post({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'delete-all', arguments: {}, _meta: meta } }, { 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    expect(res.status).toBe(400);
    const body = await res.json() as { id: number; error: { code: number; message: string } };
    expect(body).toMatchObject({ id: 9, error: { code: -32020 } });
    expect(body.error.message).toMatch(/Mcp-Name header value "echo" does not match body value "delete-all"/);
    const missing = await post({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: meta } }, { 'mcp-method': 'tools/call' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: number } }).error.code).toBe(-32020);
    expect(upstream.seen.length).toBe(before);
  });

  it('answers a version neither side speaks with UnsupportedProtocolVersion listing the supported ones', async () => {
    const res = await post({ jsonrpc: '2.0', id: 11, method: 'tools/list', params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } }, { 'mcp-method': 'tools/list', 'mcp-protocol-version': '2099-01-01' });
    expect(res.status).toBe(400);
    const body = await res.json() as { id: number; error: { code: number; data: { supported: string[]; requested: string } } };
    expect(body.error.code).toBe(-32022);
    expect(body.error.data.requested).toBe('2099-01-01');
    expect(body.error.data.supported).toContain(version);
  });

  it('answers GET and DELETE with 405 for 2026-07-28 (no GET stream, no session)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(proxy.url, { method, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-protocol-version': version } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('ignores an Mcp-Session-Id header on a 2026-07-28 request and mints none', async () => {
    const res = await post({ jsonrpc: '2.0', id: 12, method: 'tools/list', params: { _meta: meta } }, { 'mcp-method': 'tools/list', 'mcp-session-id': 'made-up' });
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBeNull();
  });

  it('relays subscriptions/listen: the acknowledgement, then the upstream\'s tools/list_changed, on one open stream', async () => {
    const abort = new AbortController();
    const res = await fetch(proxy.url, {
      method: 'POST', signal: abort.signal,
      body: JSON.stringify({ jsonrpc: '2.0', id: 'listen-1', method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } }),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, 'mcp-method': 'subscriptions/listen' },
    });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const until = async (needle: string) => {
        while (!text.includes(needle)) {
          const { done, value } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}; got ${text}`);
          text += Buffer.from(value).toString('utf8');
        }
      };
      await until('notifications/subscriptions/acknowledged');
      expect(text).not.toContain('notifications/tools/list_changed');
      upstream.notifyToolsChanged();
      await until('notifications/tools/list_changed');
    } finally {
      abort.abort();
    }
  });

  it('refuses subscriptions/listen for resource updates the caller may not read (as the gate refuses resources/read)', async () => {
    const res = await post({ jsonrpc: '2.0', id: 'listen-2', method: 'subscriptions/listen', params: { _meta: meta, notifications: { resourceSubscriptions: ['fixture://readme'] } } }, { 'mcp-method': 'subscriptions/listen' });
    const body = await res.json() as { id: string; error: { code: number; message: string } };
    expect(body).toMatchObject({ id: 'listen-2', error: { code: ErrorCodes.invalidParams } });
    expect(body.error.message).toMatch(/fixture:\/\/readme/);
  });

  it('refuses a 2026-07-28 request without a token, as the session path does', async () => {
    const res = await fetch(proxy.url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 13, method: 'tools/list', params: { _meta: meta } }), headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, 'mcp-method': 'tools/list' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});

describe('a v2 client in front of a server that speaks only ≤ 2025-11-25 (the npm reference server)', () => {
  let everything: EverythingServer;
  let legacyCatalog: UpstreamToolCatalog;
  let legacyProxy: McpProxy;
  beforeAll(async () => {
    everything = await startEverything();
    const router = new PolicyRouter();
    const p = policy(everything.url);
    p.spec.servers = [{ name: 'everything', url: everything.url }];
    p.spec.profiles = [{ name: 'everything' }];
    const gateway = await loadPolicy(router, p, 'rev-1');
    const verifier = createTokenVerifier(gateway.identity!, {});
    legacyCatalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: async () => ({}), log }), log });
    legacyProxy = await startMcpProxy({ gate: new Gate({ router, log, catalog: legacyCatalog, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) }), log });
  }, 60_000);
  afterAll(async () => {
    await legacyProxy?.close();
    await legacyCatalog?.close();
    await everything?.close();
  });

  const connectTo = async (mode: 'auto' | { pin: string }) => {
    const client = new Client({ name: 'v2-client', version: '1.0.0' }, { versionNegotiation: { mode } });
    await client.connect(new StreamableHTTPClientTransport(new URL(legacyProxy.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return client;
  };

  it('negotiating (auto), falls back to 2025-11-25 through the session path: the upstream\'s server/discover error is relayed, not masked', async () => {
    const client = await connectTo('auto');
    try {
      expect(client.getNegotiatedProtocolVersion?.()).toBe('2025-11-25');
      const { tools } = await client.listTools();
      // Prefixed or not is the session path's naming (being changed to unprefixed for one server).
      expect(tools.filter((t) => t.name === 'echo' || t.name === 'everything__echo')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it('pinned to 2026-07-28, fails clearly: the server offers no 2026-07-28', async () => {
    await expect(connectTo({ pin: version })).rejects.toThrow(/did not offer pinned protocol version 2026-07-28/);
  });
});
