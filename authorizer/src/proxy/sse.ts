// Server-Sent Events for the proxy: a parser for upstream streams (WHATWG "event stream
// interpretation", enough for MCP: data, event, id, retry, comments) and the writer for
// downstream streams. Upstream event ids are read but never written downstream: they belong to
// the upstream session and mean nothing to the client (the proxy resumes upstream streams itself).
import type { ServerResponse } from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/** Parses an SSE byte stream into events; ends when the stream ends. */
export async function* parseSse(body: ReadableStream<Uint8Array>, maxEventBytes = 16 * 1024 * 1024): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let data: string[] = [];
  let dataBytes = 0;
  let event = '';
  let id: string | undefined;
  let retry: number | undefined;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // A trailing \r may be the first half of \r\n: keep it until the next chunk (or the end).
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        if (!m || (m[0] === '\r' && m.index === buffer.length - 1 && !done)) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}), ...(retry !== undefined ? { retry } : {}) };
          else if (id !== undefined || retry !== undefined) yield { event: event || 'message', data: '', ...(id !== undefined ? { id } : {}), ...(retry !== undefined ? { retry } : {}) };
          data = [];
          dataBytes = 0;
          event = '';
          retry = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') {
          dataBytes += value.length;
          if (dataBytes > maxEventBytes) throw new Error(`SSE event larger than ${maxEventBytes} bytes`);
          data.push(value);
        } else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^[0-9]+$/.test(value)) retry = Number(value);
      }
      if (buffer.length > maxEventBytes) throw new Error(`SSE line longer than ${maxEventBytes} bytes`);
      if (done) return;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

export const sseHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/**
 * A downstream SSE stream. Keep-alive comments stop intermediaries from closing a quiet stream
 * (a long tool call, an idle GET stream); the timer is unref'd and cleared on close.
 */
export class SseWriter {
  readonly #res: ServerResponse;
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(res: ServerResponse, headers: Record<string, string>, keepAliveMs = 15_000) {
    this.#res = res;
    res.writeHead(200, { ...sseHeaders, ...headers });
    res.flushHeaders();
    this.#timer = setInterval(() => this.#write(': keepalive\n\n'), keepAliveMs).unref();
    res.on('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed || this.#res.destroyed;
  }

  /** Writes one JSON-RPC message as an SSE `message` event. */
  send(message: unknown): void {
    this.sendRaw(JSON.stringify(message));
  }

  /** Writes already-serialized JSON (single line) as an SSE `message` event. */
  sendRaw(json: string): void {
    // JSON.stringify never emits raw newlines, but upstream text might: one data line per line.
    this.#write(`event: message\n${json.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n')}\n\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (!this.#res.writableEnded) this.#res.end();
  }

  #write(chunk: string): void {
    if (this.closed) return;
    this.#res.write(chunk);
  }
}
