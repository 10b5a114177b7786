// The proxy's node:http upstream exchanges against a real HTTP server: connections are reused
// after a body is read or cancelled once it ends, cut when a cancelled body does not end, the
// header timeout and aborts fail the exchange, and SSE bodies parse as the fetch ones did.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSse } from './sse.ts';
import { upstreamExchange } from './upstream-http.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server answering with `handler`; `ports` collects the client port of every request (one per connection). */
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: URL; ports: number[]; bodies: string[] }> {
  const ports: number[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    ports.push(req.socket.remotePort!);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      handler(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`), ports, bodies };
}

const post = (url: URL, body = '{}', extra: Partial<Parameters<typeof upstreamExchange>[1]> = {}) =>
  upstreamExchange(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, timeoutMs: 5_000, ...extra });

describe('upstreamExchange', () => {
  it('sends the body and headers and reads JSON text, a byte-order mark dropped as fetch drops it', async () => {
    const { url, bodies } = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen': String(req.headers['x-credential']) });
      res.end('\uFEFF{"ok":true}');
    });
    const res = await post(url, '{"a":"é"}', { headers: { 'x-credential': 'secret-1' } });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.headers.get('Content-Type')).toBe('application/json');
    expect(res.headers.get('x-seen')).toBe('secret-1');
    expect(res.headers.get('x-absent')).toBeNull();
    expect(await res.text()).toBe('{"ok":true}');
    expect(bodies).toEqual(['{"a":"é"}']);
  });

  it('reuses the connection for the next request once a body was read, or cancelled and then ended', async () => {
    const { url, ports } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: {"id":1}\n\n');
      setTimeout(() => res.end(), 20);
    });
    for (let i = 0; i < 3; i++) {
      const res = await post(url);
      // The relay stops at the answer, before the stream's end: the rest is drained, not cut.
      for await (const e of parseSse(res.body!)) {
        expect(e.data).toBe('{"id":1}');
        break;
      }
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(ports).toHaveLength(3);
    expect(new Set(ports).size).toBe(1);
  });

  it('cuts the connection of a cancelled body that does not end, so no stream is left open upstream', async () => {
    let closed = 0;
    const { url, ports } = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      req.socket.on('close', () => closed++);
    });
    const res = await post(url);
    await res.body!.cancel();
    await expect.poll(() => closed, { timeout: 3_000 }).toBe(1);
    await post(url).then((r) => r.body!.cancel());
    expect(new Set(ports).size).toBe(2);
  });

  it('fails when the headers do not arrive in time, and when aborted', async () => {
    const { url } = await listen(() => undefined);
    await expect(post(url, '{}', { timeoutMs: 100 })).rejects.toThrow('no response within 100 ms');
    const abort = new AbortController();
    const pending = post(url, '{}', { signal: abort.signal, timeoutMs: 0 });
    abort.abort();
    await expect(pending).rejects.toThrow(/abort/i);
  });

  it('ends an SSE body read mid-stream with an error when the connection breaks', async () => {
    const { url } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      setTimeout(() => res.destroy(), 20);
    });
    const res = await post(url);
    const seen: string[] = [];
    await expect((async () => {
      for await (const e of parseSse(res.body!)) seen.push(e.data);
    })()).rejects.toThrow();
    expect(seen).toEqual(['one']);
  });

  it('refuses schemes other than http and https', async () => {
    await expect(post(new URL('ftp://127.0.0.1/x'))).rejects.toThrow('unsupported URL scheme "ftp:"');
  });
});
