// The proxy's own streams are resumable (MCP 2025-11-25 "Resumability and Redelivery"): the
// official SDK v1 client loses its connection to the proxy in the middle of a long tool call
// (a pass-through in between cuts it after the first progress event), reconnects with GET and
// Last-Event-ID, and is sent what it missed and the rest: every progress notification exactly
// once, then the result; a GET stream lost and resumed is sent what was delivered while the
// client was away. An id the proxy never issued, or one out of its window, is refused
// with a clear error.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawPost, startFrontedEverything, type FrontedServer } from './proxy-support.ts';

interface CuttingTap {
  url: string;
  /** Last-Event-ID of every GET that came through. */
  resumes: string[];
  close(): Promise<void>;
}

/**
 * Passes everything through to `target`, except that the SSE answer of a POST whose body
 * contains `cutWhen` is cut (the client's socket destroyed) after its second event with an id.
 */
async function startCuttingTap(target: string, cutWhen: string): Promise<CuttingTap> {
  const t = new URL(target);
  const resumes: string[] = [];
  const server: Server = createServer((req, res) => {
    const last = req.headers['last-event-id'];
    if (req.method === 'GET' && typeof last === 'string') resumes.push(last);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const cut = req.method === 'POST' && body.toString('utf8').includes(cutWhen);
      const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        if (!cut) return void r.pipe(res);
        let text = '';
        r.on('data', (c: Buffer) => {
          res.write(c);
          text += c.toString('utf8');
          if ((text.match(/^id: /gm) ?? []).length >= 2) {
            r.destroy();
            res.destroy();
          }
        });
        r.on('end', () => res.end());
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${t.pathname}`,
    resumes,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

let front: FrontedServer;
let tap: CuttingTap;

beforeAll(async () => {
  front = await startFrontedEverything({ resumeGraceMs: 20_000 });
  tap = await startCuttingTap(front.proxy.url, 'trigger-long-running-operation');
}, 120_000);

afterAll(async () => {
  await tap?.close();
  await front?.close();
});

describe('resuming the proxy\'s own streams', () => {
  it('the SDK client that lost a tool call\'s stream resumes it with Last-Event-ID and misses nothing', async () => {
    const client = new Client({ name: 'resume', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(tap.url), {
      requestInit: { headers: { authorization: `Bearer ${await front.token()}` } },
      reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 },
    });
    await client.connect(transport);
    try {
      const progress: number[] = [];
      const result = await client.request(
        { method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } } },
        CallToolResultSchema,
        { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
      );
      expect(result.content).toEqual([expect.objectContaining({ type: 'text', text: expect.stringContaining('Long running operation completed') })]);
      expect(progress).toEqual([1, 2, 3, 4]);
      // The client did come back through the cut: with the id of the last event it had.
      const postResume = tap.resumes.filter((id) => /^\d+\.\d+$/.test(id));
      expect(postResume.length).toBeGreaterThanOrEqual(1);
    } finally {
      await client.close();
    }
  });

  it('a client that lost its GET stream gets, on resuming it, the messages sent while it was away', async () => {
    const token = await front.token();
    const init = await rawPost(front.proxy.url, {
      jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }, { authorization: `Bearer ${token}` });
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    expect((await rawPost(front.proxy.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
    const lost = new AbortController();
    const first = await fetch(front.proxy.url, { headers: { ...headers, accept: 'text/event-stream' }, signal: lost.signal });
    expect(first.status).toBe(200);
    const reader = first.body!.getReader();
    let text = '';
    while (!/^id: (\S+)\nretry: \d+\ndata: \n\n/m.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const priming = /^id: (\S+)/m.exec(text)![1]!;
    lost.abort();
    await new Promise((r) => setTimeout(r, 200));
    front.proxy.notifyToolsChanged();
    const resumed = await fetch(front.proxy.url, { headers: { ...headers, accept: 'text/event-stream', 'last-event-id': priming } });
    expect(resumed.status).toBe(200);
    const again = resumed.body!.getReader();
    let replayed = '';
    while (!replayed.includes('\n\n')) replayed += new TextDecoder().decode((await again.read()).value);
    const stream = priming.split('.')[0];
    expect(replayed).toBe(`id: ${stream}.1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n`);
    await again.cancel();
  });

  it('refuses a Last-Event-ID it never issued, or of a stream it no longer keeps, with 400 naming it', async () => {
    const token = await front.token();
    const init = await rawPost(front.proxy.url, {
      jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }, { authorization: `Bearer ${token}` });
    const session = init.headers.get('mcp-session-id')!;
    expect(session).toEqual(expect.any(String));
    const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    for (const [id, says] of [['bogus', 'is not an event id of this server'], ['7.3', 'that stream is no longer kept']] as const) {
      const res = await fetch(front.proxy.url, { headers: { ...headers, 'last-event-id': id } });
      expect(res.status, id).toBe(400);
      const body = await res.json() as { error: { message: string } };
      expect(body.error.message).toContain(says);
      expect(body.error.message).toContain(JSON.stringify(id));
    }
  });
});
