// relayRequest against a node:http upstream that speaks SSE polling (2025-11-25): it answers a
// tools/call with only a priming event (id, retry, empty data) and closes the stream, and
// delivers the answer on the GET that resumes from that id.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PolicyRouter } from '../gate/index.ts';
import { relayRequest } from './relay.ts';
import { ProxySession, type Upstream } from './session.ts';
import { UpstreamSession } from './upstream.ts';

const log = pino({ level: 'silent' });
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

interface Polling {
  url: string;
  gets: IncomingHttpHeaders[];
}

/** An upstream whose tools/call stream carries only the priming event; `resumed` answers the GET. */
async function pollingUpstream(primingId: string, resumed: (callId: unknown) => string | undefined): Promise<Polling> {
  const gets: IncomingHttpHeaders[] = [];
  let callId: unknown;
  const url = await listen((req, res) => {
    if (req.method === 'GET') {
      gets.push(req.headers);
      const body = resumed(callId);
      if (body === undefined) return void res.writeHead(405).end();
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body);
      return;
    }
    let text = '';
    req.on('data', (c: Buffer) => { text += c.toString(); });
    req.on('end', () => {
      const msg = JSON.parse(text) as { id?: unknown; method?: string };
      if (msg.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'polling', version: '1' } } }));
      } else if (msg.id === undefined) {
        res.writeHead(202).end();
      } else {
        callId = msg.id;
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`id: ${primingId}\nretry: 10\ndata: \n\n`);
      }
    });
  });
  return { url, gets };
}

/** Relays one tools/call to `upstreamUrl` and returns the SSE text the client received. */
async function relayThrough(upstreamUrl: string): Promise<string> {
  const policy = { namespace: 'team-a', name: 'agents' };
  const init = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } };
  const session = new ProxySession({ subject: 'alice', issuer: 'https://issuer.test', roles: [], scopes: [] }, init, {
    router: new PolicyRouter(), upstreamHeaders: async () => ({}), supportedVersions: ['2025-11-25'], upstreamTimeoutMs: 5_000, log,
  }, { server: 'polling' }, '/mcp');
  const upstreamSession = new UpstreamSession({
    server: { name: 'polling', url: upstreamUrl }, policy, headers: async () => ({}), init, supportedVersions: ['2025-11-25'],
    timeoutMs: 5_000, onMessage: () => undefined, log,
  });
  const upstream = { session: upstreamSession, policy } as unknown as Upstream;
  const downstream = await listen((_req, res) => {
    void relayRequest({
      res, session, upstream, id: 7, log, keepAliveMs: 60_000, signal: new AbortController().signal,
      message: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow', arguments: {} } },
    });
  });
  return (await fetch(downstream)).text();
}

describe('relayRequest over SSE polling', () => {
  it('resumes after a priming event and a closed stream with a GET carrying its id as Last-Event-ID', async () => {
    const up = await pollingUpstream('prime-42', (id) => `id: ev-43\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'done' }] } })}\n\n`);
    const text = await relayThrough(up.url);
    expect(up.gets).toHaveLength(1);
    expect(up.gets[0]!['last-event-id']).toBe('prime-42');
    expect(up.gets[0]!['mcp-session-id']).toBe('up-1');
    expect(text).toContain('"text":"done"');
    expect(text).not.toContain('closed the stream without answering');
  });

  it('gives up with an error naming the server when the resumed streams never answer', async () => {
    const up = await pollingUpstream('prime-1', () => 'id: prime-1\ndata: \n\n');
    const text = await relayThrough(up.url);
    expect(up.gets.length).toBe(5);
    expect(up.gets.every((h) => h['last-event-id'] === 'prime-1')).toBe(true);
    expect(text).toContain('upstream server \\"polling\\" closed the stream without answering');
  });
});
