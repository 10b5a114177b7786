// The resumable downstream SSE writer over real HTTP connections: a client that drops its
// connection and comes back (attach) is sent what it missed, then the rest; one that does not
// come back within the grace period abandons the stream.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayLog } from './replay.ts';
import { SseWriter } from './sse.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server handing each request's response to `onResponse`. */
async function listen(onResponse: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => onResponse(res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function readUntil(body: ReadableStream<Uint8Array>, done: (text: string) => boolean): Promise<string> {
  const reader = body.getReader();
  let text = '';
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text;
}

describe('resumable SseWriter', () => {
  it('primes, keeps writing while the client is away, and sends a resuming client what it missed, then the rest', async () => {
    const log = new ReplayLog();
    const stream = log.open();
    const responses: ServerResponse[] = [];
    const url = await listen((res) => responses.push(res));
    const lost = new AbortController();
    const first = fetch(url, { signal: lost.signal });
    await expect.poll(() => responses.length).toBe(1);
    const writer = new SseWriter(responses[0]!, {}, 60_000, { stream, prime: true, graceMs: 5_000, onAbandoned: () => undefined });
    writer.send({ n: 1 });
    const seen = await readUntil((await first).body!, (t) => t.includes('"n":1'));
    expect(seen).toBe(`id: ${stream.id}.0\nretry: 1000\ndata: \n\nid: ${stream.id}.1\nevent: message\ndata: {"n":1}\n\n`);
    lost.abort();
    await expect.poll(() => responses[0]!.destroyed).toBe(true);
    writer.send({ n: 2 });
    expect(writer.closed).toBe(false);
    expect(writer.connected).toBe(false);

    const second = fetch(url);
    await expect.poll(() => responses.length).toBe(2);
    writer.attach(responses[1]!, 1);
    writer.send({ n: 3 });
    writer.close();
    const rest = await readUntil((await second).body!, () => false);
    expect(rest).toBe(`id: ${stream.id}.2\nevent: message\ndata: {"n":2}\n\nid: ${stream.id}.3\nevent: message\ndata: {"n":3}\n\n`);
    // Ended while its client was connected: forgotten.
    await expect.poll(() => 'error' in log.find(`${stream.id}.1`)).toBe(true);
  });

  it('abandons the stream when its client does not come back within the grace period', async () => {
    const stream = new ReplayLog().open();
    let abandoned = 0;
    const responses: ServerResponse[] = [];
    const url = await listen((res) => responses.push(res));
    const lost = new AbortController();
    const first = fetch(url, { signal: lost.signal });
    await expect.poll(() => responses.length).toBe(1);
    const writer = new SseWriter(responses[0]!, {}, 60_000, { stream, prime: false, graceMs: 1_000, onAbandoned: () => abandoned++ });
    await first;
    lost.abort();
    await expect.poll(() => responses[0]!.destroyed).toBe(true);
    expect(writer.closed).toBe(false);
    await sleep(50);
    expect(abandoned).toBe(0);
    await expect.poll(() => abandoned).toBe(1);
    expect(writer.closed).toBe(true);
    expect(stream.finished).toBe(true);
  });

  it('without resumability ends with its connection, as before', async () => {
    const responses: ServerResponse[] = [];
    const url = await listen((res) => responses.push(res));
    const lost = new AbortController();
    const first = fetch(url, { signal: lost.signal });
    await expect.poll(() => responses.length).toBe(1);
    const writer = new SseWriter(responses[0]!, {});
    writer.send({ n: 1 });
    const seen = await readUntil((await first).body!, (t) => t.includes('\n\n'));
    expect(seen).toBe('event: message\ndata: {"n":1}\n\n');
    lost.abort();
    await expect.poll(() => writer.closed).toBe(true);
  });
});

describe('SseWriter writes', () => {
  it('sends headers, priming event, answer and stream end written in one tick as one socket write', async () => {
    const stream = new ReplayLog().open();
    let writes = 0;
    const url = await listen((res) => {
      // Count what reaches the kernel: each _write/_writev of the socket is one send.
      const socket = res.socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
      for (const m of ['_write', '_writev'] as const) {
        const original = socket[m].bind(socket);
        socket[m] = (...a: unknown[]) => {
          writes++;
          original(...a);
        };
      }
      // As the relay does: the writer opens once the upstream's headers are in (a promise job),
      // and the answer follows in a later job of the same tick.
      void Promise.resolve().then(async () => {
        const writer = new SseWriter(res, {}, 60_000, { stream, prime: true, graceMs: 1_000, onAbandoned: () => undefined });
        await Promise.resolve();
        writer.send({ n: 1 });
        writer.close();
      });
    });
    const text = await (await fetch(url)).text();
    expect(text).toBe(`id: ${stream.id}.0\nretry: 1000\ndata: \n\nid: ${stream.id}.1\nevent: message\ndata: {"n":1}\n\n`);
    expect(writes).toBe(1);
  });
});
