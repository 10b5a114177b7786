// SSE polling through the proxy (MCP 2025-11-25 resumability): a real MCP server built with the
// official SDK, with an event store and a retry interval, answers a long tool call by sending
// its priming event (id, retry, empty data) and closing the POST stream (closeSSEStream), then
// delivers the result when the stream is resumed with GET + Last-Event-ID. The proxy must
// resume it itself, so the SDK client on the other side simply gets its answer.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { audience, connectClient, startUpstreamTap, type UpstreamTap } from './proxy-support.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';

interface PollingServer {
  url: string;
  close(): Promise<void>;
}

/** An SDK server whose `slow-report` tool switches its caller to polling before it answers. */
async function startPollingServer(): Promise<PollingServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const sessionId = req.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (!transport) {
      if (sessionId !== undefined) return void res.writeHead(404).end();
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID, eventStore: new InMemoryEventStore(), retryInterval: 50,
        onsessioninitialized: (id) => { transports.set(id, created); },
      });
      const server = new McpServer({ name: 'polling', version: '1.0.0' });
      server.registerTool('slow-report', { description: 'A report that takes a while', annotations: { readOnlyHint: true } }, async (extra) => {
        // The 2025-11-25 polling pattern: let go of the connection, answer later.
        extra.closeSSEStream?.();
        await sleep(150);
        return { content: [{ type: 'text', text: 'report ready' }] };
      });
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  };
  const http: Server = createServer((req, res) => { void handle(req, res).catch(() => res.destroy()); });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: async () => {
      await Promise.all([...transports.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    },
  };
}

let issuer: TestIssuer;
let upstream: PollingServer;
let tap: UpstreamTap;
let proxy: McpProxy;

beforeAll(async () => {
  issuer = await startJwtIssuer({ audience });
  upstream = await startPollingServer();
  tap = await startUpstreamTap(upstream.url);
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'team-a', name: 'polling' },
    spec: {
      servers: [{ name: 'polling', url: tap.url }],
      policies: [{ name: 'reports', priority: 10, when: { tools: ['slow-report'] }, action: 'allow' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  const { data, problems } = compilePolicy(policy, new Map());
  if (!data) throw new Error(`policy does not compile: ${JSON.stringify(problems)}`);
  const router = new PolicyRouter();
  await router.entry('team-a/polling').engine.load(readFileSync(ensurePolicyWasm()), data, 'rev-1');
  router.update('team-a/polling', { gateway: data.toolgate.gateway, data });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const verifier = createTokenVerifier(data.toolgate.gateway.identity!, {});
  const gate = new Gate({ router, log, catalog: anyNameCatalog, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  proxy = await startMcpProxy({ gate, log, upstreamHeaders: async () => ({}) });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await tap?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('upstream SSE polling through the proxy', () => {
  it('resumes a stream the server closed after its priming event, and relays the answer', async () => {
    const { client } = await connectClient(proxy.url, await issuer.mint({ sub: 'alice', azp: 'agent-1' }));
    try {
      const result = await client.callTool({ name: 'slow-report', arguments: {} });
      expect(result.isError ?? false).toBe(false);
      expect(result.content).toEqual([{ type: 'text', text: 'report ready' }]);
    } finally {
      await client.close();
    }
    const resumes = tap.seen.filter((h) => h['last-event-id'] !== undefined);
    expect(resumes.length).toBeGreaterThanOrEqual(1);
    expect(resumes[0]!['mcp-session-id']).toEqual(expect.any(String));
  });
});
