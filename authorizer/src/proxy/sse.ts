// Server-Sent Events for the proxy: reading upstream streams (eventsource-parser, the WHATWG
// "event stream interpretation") and the writer for downstream streams. Upstream event ids are
// read but never written downstream: they belong to the upstream session and mean nothing to
// the client (the proxy resumes upstream streams itself); downstream streams carry the proxy's
// own ids (replay.ts).
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createParser, type ParseError } from 'eventsource-parser';
import type { ReplayStream } from './replay.ts';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * What a reader must remember to resume a stream (WHATWG: the last event ID and the
 * reconnection time), updated as events are consumed — every event, those with empty data
 * included, since a priming event (an id and empty data) exists precisely to be resumed from.
 */
export interface SseResumeState {
  lastEventId?: string;
  retryMs?: number;
}

export interface ParseSseOptions {
  /** Largest event (or unterminated line) accepted, in characters; larger ones end the stream with an error. */
  maxEventChars?: number;
  /** Updated as events are consumed: their ids and any `retry` field. */
  resume?: SseResumeState;
}

/** 64 Mi characters: a 30 MiB tool result (an image, a file) passes, as it does straight to the SDK. */
export const defaultMaxSseEventChars = 64 * 1024 * 1024;

type Parsed = { kind: 'event'; event: SseEvent } | { kind: 'retry'; ms: number };

/**
 * Parses an SSE byte stream into events; ends when the stream ends (an unterminated last event is
 * dropped). A reader that stops early stops the stream too (the iterator's return cancels it).
 */
export async function* parseSse(body: AsyncIterable<Uint8Array>, opts: ParseSseOptions = {}): AsyncGenerator<SseEvent> {
  const max = opts.maxEventChars ?? defaultMaxSseEventChars;
  const tooLarge = () => new Error(`SSE event or line longer than ${max} characters`);
  const parsed: Parsed[] = [];
  let overflow: ParseError | undefined;
  const parser = createParser({
    maxBufferSize: max,
    onEvent: (e) => parsed.push({ kind: 'event', event: { event: e.event ?? 'message', data: e.data, ...(e.id !== undefined ? { id: e.id } : {}) } }),
    onRetry: (ms) => parsed.push({ kind: 'retry', ms }),
    // Unknown fields and malformed retry values are ignored, as the WHATWG algorithm says.
    onError: (err) => { if (err.type === 'max-buffer-size-exceeded') overflow = err; },
  });
  const decoder = new TextDecoder('utf-8');
  const chunks = body[Symbol.asyncIterator]();
  let endsWithCr = false;
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await chunks.next();
      if (done) finished = true;
      let text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      // A CR at the very end may be half of a CRLF, so the parser holds it; at the end of the
      // stream it is a line end.
      if (done && (endsWithCr || text.endsWith('\r'))) text += '\n';
      if (text) {
        parser.feed(text);
        endsWithCr = text.endsWith('\r');
      }
      // The parser bounds what it buffers; an event complete within one chunk is checked here.
      for (const p of parsed.splice(0)) {
        if (p.kind === 'retry') {
          if (opts.resume) opts.resume.retryMs = p.ms;
          continue;
        }
        if (p.event.data.length > max) throw tooLarge();
        yield p.event;
        if (opts.resume && p.event.id !== undefined) opts.resume.lastEventId = p.event.id;
      }
      if (overflow) throw tooLarge();
      if (done) return;
    }
  } finally {
    // Only a stream left unfinished is cancelled: cancelling a finished one costs an AbortError
    // (a DOMException with its stack) per relayed answer, for nothing.
    if (!finished) await chunks.return?.().catch(() => undefined);
  }
}

export const sseHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/** The SSE reconnection time the proxy's primed streams announce, in ms. */
export const clientRetryMs = 1_000;

export interface Resumable {
  stream: ReplayStream;
  /** Write the priming event (an id, empty data) first: 2025-11-25 clients resume only streams that have one. */
  prime: boolean;
  /** How long a stream whose client went away waits for it to resume before it is abandoned. */
  graceMs: number;
  /** The client went away and did not resume within graceMs (the request it answers may stop). */
  onAbandoned: () => void;
}

/**
 * A downstream SSE stream. Keep-alive comments stop intermediaries from closing a quiet stream
 * (a long tool call, an idle GET stream); the timer is unref'd and cleared on close. A
 * resumable one numbers its events and outlives its connection for graceMs: a client that
 * resumes (attach) is sent what it missed, then what follows.
 */
export class SseWriter {
  #res: ServerResponse | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #resumable: Resumable | undefined;
  #grace: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(res: ServerResponse, headers: Record<string, string>, keepAliveMs = 15_000, resumable?: Resumable) {
    this.#resumable = resumable;
    this.#timer = setInterval(() => this.#write(': keepalive\n\n'), keepAliveMs).unref();
    if (resumable) resumable.stream.live = this;
    this.#connect(res, headers);
    // The reconnection time tells a client whose connection breaks when to come back (well within graceMs).
    if (resumable?.prime) this.#write(`id: ${resumable.stream.primingId}\nretry: ${clientRetryMs}\ndata: \n\n`);
  }

  get closed(): boolean {
    if (this.#resumable) return this.#closed;
    return this.#closed || !this.#res || this.#res.destroyed;
  }

  /** Whether a client is connected now (a resumable stream may be waiting for its client to come back). */
  get connected(): boolean {
    return !this.#closed && this.#res !== undefined && !this.#res.destroyed;
  }

  /** A resumed client: sent the events after `afterSeq`, then this stream's next ones. */
  attach(res: ServerResponse, afterSeq: number): void {
    const missed = this.#resumable?.stream.after(afterSeq) ?? [];
    const previous = this.#res;
    this.#res = undefined;
    if (previous && !previous.writableEnded) previous.end();
    clearTimeout(this.#grace);
    this.#grace = undefined;
    this.#connect(res, {});
    for (const text of missed) this.#write(text);
  }

  /** Writes one JSON-RPC message as an SSE `message` event. */
  send(message: unknown): void {
    this.sendRaw(JSON.stringify(message));
  }

  /** Writes already-serialized JSON (single line) as an SSE `message` event. */
  sendRaw(json: string): void {
    if (this.#closed) return;
    if (this.#resumable) {
      // Kept for a resuming client even while none is connected.
      const text = this.#resumable.stream.record(json);
      this.#write(text);
      return;
    }
    // JSON.stringify never emits raw newlines, but upstream text might: one data line per line.
    this.#write(`event: message\n${json.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n')}\n\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#grace);
    const stream = this.#resumable?.stream;
    if (stream) {
      stream.finished = true;
      if (stream.live === this) stream.live = undefined;
    }
    if (this.#res && !this.#res.writableEnded) {
      // Ended while its client is connected: once flushed, the client has every event.
      this.#res.end(() => stream?.release());
    }
  }

  #connect(res: ServerResponse, headers: Record<string, string>): void {
    this.#res = res;
    coalesce(res);
    res.writeHead(200, { ...sseHeaders, ...headers });
    res.flushHeaders();
    res.on('close', () => {
      if (this.#res !== res) return;
      if (!this.#resumable) return this.close();
      this.#res = undefined;
      if (this.#closed) return;
      this.#grace = setTimeout(() => {
        this.close();
        this.#resumable?.onAbandoned();
      }, this.#resumable.graceMs).unref();
    });
  }

  #write(chunk: string): void {
    const res = this.#res;
    if (this.#closed || !res || res.destroyed) return;
    coalesce(res);
    res.write(chunk);
  }
}

const corked = new WeakSet<Socket>();

/**
 * Holds what a response is sent until the current tick's promise jobs have run, then sends it
 * as one write: the headers, priming event, answer and stream end of a quick relayed call leave
 * in one TCP segment instead of four, which the client reads (and wakes up for) once.
 * Nothing waits on a timer: a slow call's headers still leave at once. The socket is corked,
 * not the response: ServerResponse.cork() buffers chunks that end() then sends after the
 * chunked terminator.
 */
function coalesce(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    // res.end() uncorks the socket fully by itself; then this is a no-op.
    socket.uncork();
  });
}
