import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from './http.ts';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/big-declared') res.writeHead(200, { 'content-length': 4096 }).end(Buffer.alloc(4096));
    else if (req.url === '/big-chunked') {
      res.writeHead(200);
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024));
      res.end();
    } else if (req.url === '/hold') req.once('close', () => res.destroy());
    else res.writeHead(200, { etag: '"r1"' }).end(`auth=${req.headers.authorization ?? ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const opts = (signal = new AbortController().signal) => ({ headers: { authorization: 'Bearer t' }, signal, timeoutMs: 5_000, maxBodyBytes: 2048 });

describe('httpGet', () => {
  it('returns status, headers and body', async () => {
    const res = await httpGet(new URL('/ok', base), opts());
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"r1"');
    expect(res.body.toString()).toBe('auth=Bearer t');
  });

  it('refuses bodies over the limit, declared or streamed', async () => {
    await expect(httpGet(new URL('/big-declared', base), opts())).rejects.toThrow('response body of 4096 bytes is larger than the limit of 2048');
    await expect(httpGet(new URL('/big-chunked', base), opts())).rejects.toThrow('response body is larger than 2048 bytes');
  });

  it('is aborted by the signal and bounded by the timeout', async () => {
    const abort = new AbortController();
    const held = httpGet(new URL('/hold', base), opts(abort.signal));
    abort.abort();
    await expect(held).rejects.toMatchObject({ name: 'AbortError' });
    await expect(httpGet(new URL('/hold', base), { ...opts(), timeoutMs: 50 })).rejects.toThrow('no complete answer within 50 ms');
  });

  it('refuses other schemes', async () => {
    await expect(httpGet(new URL('file:///etc/passwd'), opts())).rejects.toThrow('unsupported URL scheme file:');
  });
});
