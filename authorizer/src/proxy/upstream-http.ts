// The proxy's HTTP exchanges with upstream servers, over node:http(s) with one keep-alive agent
// per scheme. Not fetch: per tools/call, fetch's WHATWG layers (Request, Headers, AbortSignal
// fan-out, web streams, an AbortError DOMException on every cancelled body) cost more CPU than
// the relay itself (bench/README.md, "Proxy overhead"). UpstreamResponse offers the part of
// Response the proxy reads: status, ok, headers.get, text() and a body to iterate or cancel.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

const agents = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) };

/**
 * How long a cancelled body may take to end by itself before its connection is cut: an SSE answer
 * ends right after its last event, and letting it end keeps the connection for the next call.
 */
const drainMs = 1_000;

export interface UpstreamRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Time allowed until the response headers arrive; 0: no limit. */
  timeoutMs: number;
}

/** The body of an upstream response, read once: iterated chunk by chunk, or cancelled. */
export class UpstreamBody implements AsyncIterable<Uint8Array> {
  readonly #res: IncomingMessage;
  readonly #chunks: Buffer[] = [];
  #ended = false;
  #error: Error | undefined;
  #discarding = false;
  #wake: (() => void) | undefined;

  constructor(res: IncomingMessage) {
    this.#res = res;
    res.on('data', (chunk: Buffer) => {
      if (this.#discarding) return;
      this.#chunks.push(chunk);
      res.pause();
      this.#notify();
    });
    res.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    res.on('error', (err) => {
      this.#error = err;
      this.#notify();
    });
    res.on('close', () => {
      if (!this.#ended) this.#error ??= new Error('the connection closed before the response ended');
      this.#notify();
    });
  }

  /** Whether the whole body has been received. */
  get ended(): boolean {
    return this.#ended;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#ended || this.#discarding) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#res.resume();
        });
      }
    } finally {
      // Stopped before the end (the answer was found, or the reader failed): the rest is not read.
      if (!this.#ended) void this.cancel();
    }
  }

  /** Discards the rest; the connection is kept when the body ends within drainMs, else cut. */
  cancel(): Promise<void> {
    if (this.#ended || this.#discarding || this.#res.destroyed) return Promise.resolve();
    this.#discarding = true;
    this.#chunks.length = 0;
    const timer = setTimeout(() => this.#res.destroy(), drainMs).unref();
    this.#res.once('end', () => clearTimeout(timer));
    this.#res.once('close', () => clearTimeout(timer));
    this.#res.resume();
    this.#notify();
    return Promise.resolve();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export class UpstreamResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** Null for answers that have none (204, 304). */
  readonly body: UpstreamBody | null;

  constructor(res: IncomingMessage) {
    this.status = res.statusCode ?? 0;
    const h = res.headers;
    this.headers = {
      get: (name) => {
        const v = h[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    };
    if (this.status === 204 || this.status === 304) {
      res.resume();
      this.body = null;
    } else {
      this.body = new UpstreamBody(res);
    }
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** The whole body as UTF-8 text (a leading byte-order mark dropped, as fetch's text() does). */
  async text(): Promise<string> {
    if (!this.body) return '';
    const chunks: Uint8Array[] = [];
    for await (const c of this.body) chunks.push(c);
    return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
  }
}

/** One HTTP exchange with an upstream; resolves once the response headers are in. Redirects are not followed. */
export function upstreamExchange(url: URL, r: UpstreamRequest): Promise<UpstreamResponse> {
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported URL scheme ${JSON.stringify(url.protocol)}`));
  const headers: Record<string, string> = { ...r.headers };
  if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: r.method, headers, agent: agents[https ? 'https:' : 'http:'], ...(r.signal ? { signal: r.signal } : {}),
    });
    const timer = r.timeoutMs > 0 ? setTimeout(() => req.destroy(new Error(`no response within ${r.timeoutMs} ms`)), r.timeoutMs) : undefined;
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(new UpstreamResponse(res));
    });
    // Also after the response: an abort or a broken connection mid-body (the body reports it too).
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(r.body);
  });
}
