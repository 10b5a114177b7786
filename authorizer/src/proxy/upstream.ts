// The proxy's client side: one MCP Streamable HTTP session with one upstream server, on behalf
// of one downstream session. Requests carry the server's own credentials (from
// upstreamHeaders) and never anything the client sent: the client's Authorization header has
// no path to this file.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayConfig, GatewayServer, JsonRpcError } from '../gate/index.ts';
import type { ProxyMetrics } from './metrics.ts';
import { parseSse, type SseResumeState } from './sse.ts';
import { upstreamExchange, type UpstreamResponse } from './upstream-http.ts';

export type { UpstreamResponse };

export type UpstreamHeaders = (server: GatewayServer, policy: GatewayConfig['policy']) => Promise<Record<string, string>>;

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly server: string;
  readonly status: number | undefined;
  readonly rpcError: JsonRpcError | undefined;
  constructor(server: string, message: string, opts: { status?: number; rpcError?: JsonRpcError; cause?: unknown } = {}) {
    super(`upstream server "${server}": ${message}`, { cause: opts.cause });
    this.server = server;
    this.status = opts.status;
    this.rpcError = opts.rpcError;
  }
}

export interface ClientInit {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
}

export interface UpstreamOptions {
  server: GatewayServer;
  policy: GatewayConfig['policy'];
  headers: UpstreamHeaders;
  init: ClientInit;
  supportedVersions: readonly string[];
  /** Time allowed until the upstream's response headers arrive. */
  timeoutMs: number;
  /** Server→client messages that arrive outside a relayed request (e.g. during tools/list). */
  onMessage: (server: string, message: Record<string, unknown>) => void;
  log: Logger;
  metrics?: ProxyMetrics;
  /** Largest SSE event accepted from the server, in characters. Default defaultMaxSseEventChars. */
  maxSseEventChars?: number;
}

export interface UpstreamMessage {
  message: Record<string, unknown>;
  /** The JSON text as the upstream sent it, for untouched pass-through. */
  raw: string;
}

const idPrefix = `toolgate-${randomUUID()}-`;
let idSeq = 0;
/** Ids of the proxy's own upstream requests: unguessable, so a client id can never collide with them. */
export const internalId = (): string => `${idPrefix}${++idSeq}`;

export class UpstreamSession {
  readonly server: GatewayServer;
  readonly #o: UpstreamOptions;
  sessionId: string | undefined;
  protocolVersion: string;
  /** Set once the client sent notifications/initialized; later (re)initializations replay it. */
  clientInitialized = false;
  /** The server's initialize result as it sent it (serverInfo, capabilities, instructions...). */
  initializeResult: Record<string, unknown> | undefined;
  /** Whether the server answers requests with an SSE stream (else JSON), as its last answer did. */
  answersWithSse = false;
  /** Whether the server offers a GET stream; undefined until first tried. */
  streamSupported: boolean | undefined;
  #ready = false;
  #url: URL | undefined;
  #initializing: Promise<void> | undefined;

  constructor(o: UpstreamOptions) {
    this.#o = o;
    this.server = o.server;
    this.protocolVersion = o.init.protocolVersion;
  }

  get name(): string {
    return this.server.name;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Initializes the upstream session unless it is; concurrent callers share one attempt. */
  async ensure(signal?: AbortSignal): Promise<void> {
    if (this.#ready) return;
    this.#initializing ??= this.#initialize(signal).finally(() => { this.#initializing = undefined; });
    return this.#initializing;
  }

  async #initialize(signal?: AbortSignal): Promise<void> {
    this.sessionId = undefined;
    this.protocolVersion = this.#o.init.protocolVersion;
    const result = await this.call('initialize', { ...this.#o.init }, signal, true) as Record<string, unknown> | undefined;
    const version = typeof result?.protocolVersion === 'string' ? result.protocolVersion : '';
    if (!this.#o.supportedVersions.includes(version)) {
      await this.close();
      throw new UpstreamError(this.name, `negotiated protocol version "${version}", expected one of ${this.#o.supportedVersions.join(', ')}`);
    }
    this.protocolVersion = version;
    this.initializeResult = result;
    this.#ready = true;
    this.#o.log.info({ server: this.name, protocolVersion: version, upstreamSession: Boolean(this.sessionId) }, 'upstream session initialized');
    if (this.clientInitialized) await this.notify('notifications/initialized');
  }

  async #headers(extra: Record<string, string>): Promise<Record<string, string>> {
    let credentials: Record<string, string>;
    try {
      credentials = await this.#o.headers(this.server, this.#o.policy);
    } catch (err) {
      // Fail closed: no call goes upstream without its credentials. The provider's messages name
      // the source, never the value.
      throw new UpstreamError(this.name, `credentials unavailable: ${(err as Error).message}`, { cause: err });
    }
    // Credentials first: protocol headers set below win over a misconfigured credential header
    // name, whatever its case (header names are case-insensitive; node:http would send both).
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(credentials)) h[k.toLowerCase()] = v;
    for (const [k, v] of Object.entries(extra)) h[k] = v;
    if (this.sessionId) h['mcp-session-id'] = this.sessionId;
    h['mcp-protocol-version'] = this.protocolVersion;
    return h;
  }

  /** POSTs one message; the caller reads the body. A 404 on a live session means it expired upstream. */
  async post(message: unknown, signal?: AbortSignal): Promise<UpstreamResponse> {
    const headers = await this.#headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
    const res = await this.#fetch('POST', { headers, body: JSON.stringify(message) }, signal);
    if (res.status === 404 && this.sessionId) this.#expire();
    return res;
  }

  /**
   * Sends a client request upstream, renewing an upstream session that expired (404) once: the
   * upstream did not process the request, so sending it again cannot duplicate it.
   */
  async send(message: unknown, signal?: AbortSignal): Promise<UpstreamResponse> {
    await this.ensure(signal);
    const res = await this.post(message, signal);
    if (res.status !== 404 || this.#ready) return res;
    await res.body?.cancel();
    this.#o.log.info({ server: this.name }, 'upstream session expired; re-initializing');
    await this.ensure(signal);
    return this.post(message, signal);
  }

  /** The proxy's own request (initialize, tools/list): returns the result, relays anything else. */
  async call(method: string, params: Record<string, unknown>, signal?: AbortSignal, initializing = false): Promise<unknown> {
    if (!initializing) await this.ensure(signal);
    const id = internalId();
    const res = await this.post({ jsonrpc: '2.0', id, method, params }, signal);
    if (initializing) this.sessionId = res.headers.get('mcp-session-id') ?? undefined;
    if (res.ok && res.status !== 202) this.answersWithSse = isEventStream(res);
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new UpstreamError(this.name, `${method} answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, { status: res.status });
    }
    for await (const m of this.messages(res)) {
      if (m.message.id === id && !('method' in m.message)) {
        const error = m.message.error as JsonRpcError | undefined;
        if (error) throw new UpstreamError(this.name, `${method} failed: ${error.message}`, { rpcError: error });
        return m.message.result;
      }
      this.#o.onMessage(this.name, m.message);
    }
    throw new UpstreamError(this.name, `${method}: the response stream ended without a response`);
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    await this.forward({ jsonrpc: '2.0', method, ...(params ? { params } : {}) });
  }

  /** Forwards a notification or a response (202 expected); failures are logged, not thrown. */
  async forward(message: unknown): Promise<void> {
    try {
      const res = await this.post(message);
      await res.body?.cancel();
      if (res.status !== 202 && !res.ok) this.#o.log.warn({ server: this.name, status: res.status }, 'upstream refused a forwarded message');
    } catch (err) {
      this.#o.log.warn({ server: this.name, err: (err as Error).message }, 'could not forward a message upstream');
    }
  }

  /** The JSON-RPC messages of one of this server's response bodies; `resume` learns the stream's event ids and retry. */
  messages(res: UpstreamResponse, resume?: SseResumeState): AsyncGenerator<UpstreamMessage> {
    return messagesOf(this.name, res, { ...(resume ? { resume } : {}), ...(this.#o.maxSseEventChars ? { maxEventChars: this.#o.maxSseEventChars } : {}) });
  }

  /** Opens the upstream GET stream; undefined when the server offers none (405). */
  async openStream(signal: AbortSignal, lastEventId?: string): Promise<UpstreamResponse | undefined> {
    await this.ensure(signal);
    const headers = await this.#headers({ accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
    // No header timeout: some servers send a stream's headers only with its first event.
    const res = await this.#fetch('GET', { headers }, signal, 0);
    if (res.status === 405) {
      await res.body?.cancel();
      this.streamSupported = false;
      return undefined;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      if (res.status === 404 && this.sessionId) this.#expire();
      throw new UpstreamError(this.name, `GET stream answered HTTP ${res.status}`, { status: res.status });
    }
    this.streamSupported = true;
    return res;
  }

  /** Ends the upstream session (DELETE); best effort, 405 means the server keeps no sessions. */
  async close(): Promise<void> {
    const sessionId = this.sessionId;
    this.#ready = false;
    if (!sessionId) return;
    try {
      const headers = await this.#headers({});
      const res = await this.#fetch('DELETE', { headers }, AbortSignal.timeout(this.#o.timeoutMs));
      await res.body?.cancel();
    } catch (err) {
      this.#o.log.debug({ server: this.name, err: (err as Error).message }, 'upstream session DELETE failed');
    } finally {
      this.sessionId = undefined;
    }
  }

  #expire(): void {
    this.#ready = false;
    this.sessionId = undefined;
  }

  async #fetch(method: string, init: { headers: Record<string, string>; body?: string }, signal?: AbortSignal, timeoutMs = this.#o.timeoutMs): Promise<UpstreamResponse> {
    const started = performance.now();
    try {
      // Time out only the wait for headers: an SSE body may legitimately stream for minutes.
      const res = await upstreamExchange(this.#url ??= new URL(this.server.url), { method, ...init, timeoutMs, ...(signal ? { signal } : {}) });
      this.#o.metrics?.upstream(this.name, method, String(res.status), (performance.now() - started) / 1000);
      return res;
    } catch (err) {
      this.#o.metrics?.upstream(this.name, method, 'error', (performance.now() - started) / 1000);
      throw new UpstreamError(this.name, `unreachable: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The JSON-RPC messages of an upstream response body: one JSON document, or an SSE stream. */
export async function* messagesOf(server: string, res: UpstreamResponse, sse: { resume?: SseResumeState; maxEventChars?: number } = {}): AsyncGenerator<UpstreamMessage> {
  if (!res.body) return;
  if (res.status === 202) return void (await res.body.cancel());
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const raw = await res.text();
    yield { message: parseObject(server, raw), raw };
    return;
  }
  if (type !== 'text/event-stream') {
    await res.body.cancel();
    throw new UpstreamError(server, `unexpected response content type "${type}"`);
  }
  for await (const e of parseSse(res.body, sse)) {
    // Priming events (2025-11-25) carry an id and empty data: nothing to relay, but parseSse
    // has recorded their id in `resume`, so a stream closed right after one can be resumed.
    if (e.event !== 'message' || e.data.trim() === '') continue;
    yield { message: parseObject(server, e.data), raw: e.data };
  }
}

/** One upstream message: a JSON object, or an UpstreamError naming the server. */
export function parseObject(server: string, raw: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new UpstreamError(server, 'sent a message that is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UpstreamError(server, 'sent a message that is not a JSON-RPC object');
  return v as Record<string, unknown>;
}

const isEventStream = (res: UpstreamResponse) => (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === 'text/event-stream';

