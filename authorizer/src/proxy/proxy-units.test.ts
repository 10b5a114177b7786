// Pure parts of the proxy: SSE parsing, Accept negotiation, tool-name prefixing and merging.
import { describe, expect, it } from 'vitest';
import { mergeTools, prefixedName, splitName, validSeparator } from './catalog.ts';
import { accepts, normalizeOrigin } from './http.ts';
import { parseSse, type SseEvent } from './sse.ts';

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function collect(s: ReadableStream<Uint8Array>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of parseSse(s)) out.push(e);
  return out;
}

describe('parseSse', () => {
  it('joins data lines, keeps ids and retry, skips comments, across arbitrary chunk splits', async () => {
    const text = ': keepalive\n\nid: 7\nretry: 1500\ndata: \n\nevent: message\ndata: {"a":\ndata: 1}\n\n';
    const whole = await collect(streamOf(text));
    expect(whole).toEqual([
      { event: 'message', data: '', id: '7', retry: 1500 },
      { event: 'message', data: '{"a":\n1}', id: '7' },
    ]);
    const split = await collect(streamOf(...text.split('')));
    expect(split).toEqual(whole);
  });

  it('accepts CRLF and CR line endings, including a CRLF split between chunks', async () => {
    expect(await collect(streamOf('data: x\r', '\n\r\ndata: y\r\r'))).toEqual([
      { event: 'message', data: 'x' },
      { event: 'message', data: 'y' },
    ]);
  });

  it('drops an unterminated last event and refuses oversized events', async () => {
    expect(await collect(streamOf('data: complete\n\ndata: partial'))).toEqual([{ event: 'message', data: 'complete' }]);
    const big = `data: ${'x'.repeat(64)}\n\n`;
    const gen = parseSse(streamOf(big), 32);
    await expect(gen.next()).rejects.toThrow('larger than 32 bytes');
  });
});

describe('accepts', () => {
  it('honours exact types, wildcards and q=0', () => {
    expect(accepts('application/json, text/event-stream', 'text/event-stream')).toBe(true);
    expect(accepts('application/json', 'text/event-stream')).toBe(false);
    expect(accepts('*/*', 'text/event-stream')).toBe(true);
    expect(accepts('text/*;q=0.5', 'text/event-stream')).toBe(true);
    expect(accepts('text/event-stream;q=0, */*', 'application/json')).toBe(true);
    expect(accepts('text/event-stream;q=0', 'text/event-stream')).toBe(false);
    expect(accepts(undefined, 'application/json')).toBe(false);
  });

  it('normalizes origins for comparison', () => {
    expect(normalizeOrigin('HTTP://LocalHost:6274')).toBe('http://localhost:6274');
    expect(normalizeOrigin('https://a.example:443')).toBe('https://a.example');
  });
});

describe('tool names', () => {
  it('splits at the first separator, which no server name can contain', () => {
    expect(splitName(prefixedName('github', 'create__issue', '__'), '__')).toEqual({ server: 'github', tool: 'create__issue' });
    expect(splitName('noprefix', '__')).toBeUndefined();
    expect(splitName('__tool', '__')).toBeUndefined();
    expect(splitName('server__', '__')).toBeUndefined();
    expect(validSeparator('__')).toBe(true);
    expect(validSeparator('.')).toBe(true);
    expect(validSeparator('-')).toBe(false);
    expect(validSeparator('a')).toBe(false);
    expect(validSeparator('')).toBe(false);
  });

  it('merges per-server lists and withholds names that collide after prefixing', () => {
    const { tools, collisions } = mergeTools([
      { server: 'a', tools: [{ name: 'x', description: 'first' }, { name: 'y' }] },
      { server: 'b', tools: [{ name: 'x' }] },
      { server: 'a', tools: [{ name: 'x', description: 'again' }] },
    ], '__');
    expect(tools.map((t) => t.name)).toEqual(['a__y', 'b__x']);
    expect(collisions).toEqual(['a__x']);
  });
});
