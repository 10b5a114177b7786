// HTTP plumbing of the proxy's downstream side: bounded body reading, Accept / Content-Type
// negotiation as the Streamable HTTP transport requires, and the rendering of the gate's
// refusals (status, JSON-RPC error body, challenge) exactly as ext_authz renders them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../../../pkg/http/error.ts';
import { bodyTooLargeMessage, ErrorCodes, errorResponse, type JsonRpcId, type Refusal } from '../gate/index.ts';
import { sseHeaders } from './sse.ts';

export { HttpError };

/** JSON-RPC code for transport-level refusals, as the MCP SDK uses it (no stable toolgate meaning). */
export const transportErrorCode = ErrorCodes.transport;

/**
 * Reads the whole body, refusing more than `limit` bytes (by Content-Length up front, else as it
 * streams). Events, not `for await`: the stream's async iterator costs more than the read itself
 * for the small bodies of tool calls.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(bodyTooLargeMessage(limit), { status: 413 });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // The rest is read and dropped, so the refusal can still be sent on this connection.
      req.off('data', onData);
      req.resume();
      chunks.length = 0;
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    // A client that goes away mid-body: the request is not served (nothing to answer it on).
    req.once('close', () => { if (!req.complete) reject(new Error('the client closed the connection before the request body ended')); });
  });
}

interface MediaRange { type: string; subtype: string; q: number }

function mediaRanges(accept: string | undefined): MediaRange[] {
  if (!accept) return [];
  return accept.split(',').map((part) => {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    const [type = '', subtype = ''] = range.trim().split('/');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    return { type, subtype, q: Number.isFinite(q) ? q : 0 };
  });
}

/** Whether an Accept header admits a media type (wildcards honoured, q=0 excludes). */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  const [type, subtype] = mediaType.split('/');
  return mediaRanges(accept).some((r) => r.q > 0 && (r.type === '*' || r.type === type) && (r.subtype === '*' || r.subtype === subtype));
}

export function isJsonContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** A JSON-RPC error response body (id null when the request could not be identified). */
export function sendJsonRpcError(res: ServerResponse, status: number, id: JsonRpcId, code: number, message: string, data?: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, { jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined ? { data } : {}) } }, headers);
}

/** A gate refusal as the HTTP response: the same status, body and headers ext_authz has Envoy send. */
export function sendRefusal(res: ServerResponse, r: Refusal): void {
  sendJson(res, r.httpStatus, errorResponse(r.id, r.error), {
    ...r.headers,
    ...(r.wwwAuthenticate ? { 'www-authenticate': r.wwwAuthenticate } : {}),
    ...(r.verdict ? { 'x-toolgate-decision-id': r.verdict.decisionId } : {}),
  });
}

/** Origin of a URL as browsers send it in the Origin header (scheme://host[:port], lower case). */
export function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin.toLowerCase();
  } catch {
    return origin.toLowerCase();
  }
}

/**
 * An answer the proxy composes itself (a filtered listing, ping): as JSON, or — when it fronts a
 * server that answers with SSE and the client accepts it — as a one-event SSE stream, so the
 * client sees the transport the server behind it would use.
 */
export function sendAnswer(res: ServerResponse, body: unknown, asSse: boolean): void {
  if (!asSse) return sendJson(res, 200, body);
  res.writeHead(200, sseHeaders);
  res.end(`event: message\ndata: ${JSON.stringify(body)}\n\n`);
}
