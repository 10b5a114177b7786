import { describe, expect, it } from 'vitest';
import { parseSse, type SseEvent, type SseResumeState } from './sse.ts';

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function collect(s: ReadableStream<Uint8Array>, opts: Parameters<typeof parseSse>[1] = {}): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of parseSse(s, opts)) out.push(e);
  return out;
}

describe('parseSse', () => {
  it('joins data lines, keeps each event\'s id, skips comments, across arbitrary chunk splits', async () => {
    const text = ': keepalive\n\nid: 7\nretry: 1500\ndata: \n\nevent: message\ndata: {"a":\ndata: 1}\n\nevent: other\nid: 8\ndata: x\n\n';
    const expected = [
      { event: 'message', data: '', id: '7' },
      { event: 'message', data: '{"a":\n1}' },
      { event: 'other', data: 'x', id: '8' },
    ];
    expect(await collect(streamOf(text))).toEqual(expected);
    expect(await collect(streamOf(...text.split('')))).toEqual(expected);
  });

  it('records the last event id and retry in the resume state, a priming event (id, retry, empty data) included', async () => {
    const resume: SseResumeState = {};
    expect(await collect(streamOf('id: prime-1\nretry: 250\ndata: \n\n'), { resume })).toEqual([{ event: 'message', data: '', id: 'prime-1' }]);
    expect(resume).toEqual({ lastEventId: 'prime-1', retryMs: 250 });
    // An event without an id keeps the last one (WHATWG "last event ID").
    await collect(streamOf('data: {}\n\n'), { resume });
    expect(resume.lastEventId).toBe('prime-1');
  });

  it('records an id only once its event is consumed', async () => {
    const resume: SseResumeState = {};
    for await (const e of parseSse(streamOf('id: 1\ndata: a\n\nid: 2\ndata: b\n\n'), { resume })) {
      expect(e.id).toBe('1');
      expect(resume.lastEventId).toBeUndefined();
      break;
    }
    expect(resume.lastEventId).toBeUndefined();
  });

  it('accepts CRLF and CR line endings, a CRLF split between chunks and a CR ending the stream', async () => {
    expect(await collect(streamOf('data: x\r', '\n\r\ndata: y\r\r'))).toEqual([
      { event: 'message', data: 'x' },
      { event: 'message', data: 'y' },
    ]);
    expect(await collect(streamOf('data: z\r', '\r'))).toEqual([{ event: 'message', data: 'z' }]);
  });

  it('ignores a byte-order mark, unknown fields and a malformed retry', async () => {
    const resume: SseResumeState = {};
    expect(await collect(streamOf('\uFEFFdata: a\nfoo: bar\nretry: soon\n\n'), { resume })).toEqual([{ event: 'message', data: 'a' }]);
    expect(resume.retryMs).toBeUndefined();
  });

  it('drops an unterminated last event', async () => {
    expect(await collect(streamOf('data: complete\n\ndata: partial'))).toEqual([{ event: 'message', data: 'complete' }]);
  });

  it('refuses an event over the limit, whether it arrives in one chunk or many, after the events before it', async () => {
    const big = `data: ${'x'.repeat(64)}\n\n`;
    const seen: string[] = [];
    const one = parseSse(streamOf(`data: ok\n\n${big}`), { maxEventChars: 32 });
    await expect((async () => { for await (const e of one) seen.push(e.data); })()).rejects.toThrow('SSE event or line longer than 32 characters');
    expect(seen).toEqual(['ok']);
    const many = parseSse(streamOf(...big.match(/.{1,8}/gs)!), { maxEventChars: 32 });
    await expect(many.next()).rejects.toThrow('longer than 32 characters');
    const line = parseSse(streamOf('data: ', 'y'.repeat(40)), { maxEventChars: 32 });
    await expect(line.next()).rejects.toThrow('longer than 32 characters');
    expect(await collect(streamOf(`data: ${'x'.repeat(30)}\n\n`), { maxEventChars: 32 })).toHaveLength(1);
  });

  it('cancels a stream the reader left unfinished (the relay stops at the answer), and not one that ended', async () => {
    const enc = new TextEncoder();
    let cancels = 0;
    const counted = (close: boolean) => new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('data: one\n\ndata: two\n\n'));
        if (close) c.close();
      },
      cancel() {
        cancels++;
      },
    });
    expect((await collect(counted(true))).map((e) => e.data)).toEqual(['one', 'two']);
    expect(cancels).toBe(0);
    for await (const e of parseSse(counted(false))) {
      expect(e.data).toBe('one');
      break;
    }
    expect(cancels).toBe(1);
  });
});
