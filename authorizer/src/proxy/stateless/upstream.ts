// One 2026-07-28 request to the governed upstream: its own POST, no session, carrying the
// server's own credentials, the MCP request headers (already checked against the body, so they
// mirror exactly what is sent), and the client's Mcp-Param-* headers (an intermediary forwards
// those it does not interpret). Nothing else the client sent goes upstream — no Authorization,
// no cookies, no Mcp-Session-Id.
import type { GatewayConfig, GatewayServer } from '../../gate/types.ts';
import type { HeaderValues } from '../../gate/mcp-headers.ts';
import { UpstreamError, parseObject, type UpstreamHeaders } from '../upstream.ts';
import { parseSse } from '../sse.ts';

const mirrored = ['mcp-protocol-version', 'mcp-method', 'mcp-name'];

export interface ModernUpstreamRequest {
  server: GatewayServer;
  policy: GatewayConfig['policy'];
  credentials: UpstreamHeaders;
  /** The client's request headers (lower-case names; arrays when repeated). */
  clientHeaders: HeaderValues;
  body: string;
  signal: AbortSignal;
  /** Time allowed until the upstream's response headers arrive. */
  timeoutMs: number;
}

export async function postModern(r: ModernUpstreamRequest): Promise<Response> {
  let credentials: Record<string, string>;
  try {
    credentials = await r.credentials(r.server, r.policy);
  } catch (err) {
    throw new UpstreamError(r.server.name, `credentials unavailable: ${(err as Error).message}`, { cause: err });
  }
  const headers = new Headers(credentials);
  headers.set('content-type', 'application/json');
  headers.set('accept', 'application/json, text/event-stream');
  for (const [name, value] of Object.entries(r.clientHeaders)) {
    if (value === undefined || !(mirrored.includes(name) || name.startsWith('mcp-param-'))) continue;
    headers.delete(name);
    for (const v of typeof value === 'string' ? [value] : value) headers.append(name, v);
  }
  const timeout = new AbortController();
  const timer = r.timeoutMs > 0 ? setTimeout(() => timeout.abort(new Error(`no response within ${r.timeoutMs} ms`)), r.timeoutMs) : undefined;
  try {
    return await fetch(r.server.url, { method: 'POST', headers, body: r.body, redirect: 'manual', signal: AbortSignal.any([r.signal, timeout.signal]) });
  } catch (err) {
    const reason = timeout.signal.aborted ? (timeout.signal.reason as Error).message : String(((err as Error).cause as Error | undefined)?.message ?? (err as Error).message);
    throw new UpstreamError(r.server.name, `unreachable: ${reason}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** What one upstream response stream carries: notifications in order, then the response to `id`. */
export interface ModernMessage {
  message: Record<string, unknown>;
  /** The JSON text as the upstream sent it. */
  raw: string;
}

/** The JSON-RPC messages of an upstream answer (one JSON body, or an SSE stream), as they arrive. */
export async function* messagesOf(res: Response, server: string): AsyncGenerator<ModernMessage> {
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!res.body) return;
  if (type === 'application/json') {
    const raw = await res.text();
    yield { message: parseObject(server, raw), raw };
    return;
  }
  if (type !== 'text/event-stream') throw new UpstreamError(server, `answered with Content-Type ${JSON.stringify(type)}, not JSON or an SSE stream`, { status: res.status });
  for await (const ev of parseSse(res.body)) {
    if (ev.data === '') continue;
    yield { message: parseObject(server, ev.data), raw: ev.data };
  }
}

