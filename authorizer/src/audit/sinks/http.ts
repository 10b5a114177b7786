// A decision-log endpoint as OPA's decision-log plugin uses it: each batch is one POST of a
// gzip'd JSON array (Content-Type: application/json, Content-Encoding: gzip), one element per
// record. So a service that takes OPA's decision logs (OPA's own remote log service, Styra DAS,
// a Fluent Bit / Vector HTTP input) takes toolgate's. The elements are the chained lines verbatim
// (canonical JSON), so a receiver that stores them keeps records that verify.
//
// Any answer but 2xx fails the batch; the channel retries it with capped jittered backoff, at
// least as late as a 429 or 503 Retry-After asks (within the backoff's cap).
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { retryAfterMs } from '../../../../pkg/retry/retry-after.ts';
import { SinkWriteError, type AuditSink } from './sink.ts';

const gzipAsync = promisify(gzip);

export interface HttpSinkOptions {
  /** The full URL batches are POSTed to (OPA's default resource is <service>/logs). */
  url: string;
  /** Sent as Authorization: Bearer, read on every request (a projected token rotates). */
  token?: () => string | undefined;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class HttpSink implements AuditSink {
  readonly name = 'http';
  readonly #o: HttpSinkOptions;

  constructor(o: HttpSinkOptions) {
    this.#o = o;
  }

  async write(lines: readonly string[]): Promise<void> {
    const body = await gzipAsync(Buffer.from(`[${lines.join(',')}]`, 'utf8'));
    const token = this.#o.token?.();
    let res: Response;
    try {
      res = await (this.#o.fetch ?? fetch)(this.#o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
        // A redirect would send the records (and the token) somewhere not configured: a failure.
        redirect: 'error',
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new SinkWriteError(`POST ${this.#o.url}: ${err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err)}`, { cause: err });
    }
    // Drain the body so the connection is reused; its text only matters in the error.
    const text = await res.text().catch(() => '');
    if (res.ok) return;
    const retryAfter = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
    throw new SinkWriteError(`POST ${this.#o.url}: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, retryAfter !== undefined ? { retryAfterMs: retryAfter } : {});
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
