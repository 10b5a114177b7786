// What a CheckRequest says about the HTTP request Envoy holds: method, path, lower-cased
// headers, the body (`body` or, with pack_as_bytes, `raw_body`), whether Envoy truncated it,
// and which governed MCP server the route belongs to. Pure: no decision is taken here.

/** The parts of envoy.service.auth.v3.CheckRequest we read (proto field names, as loaded). */
export interface CheckRequest {
  attributes?: {
    request?: { http?: HttpAttributes };
    context_extensions?: Record<string, string>;
  };
}

export interface HttpAttributes {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Sent instead of `headers` when the filter sets encode_raw_headers. */
  header_map?: { headers?: Array<{ key?: string; value?: string; raw_value?: Uint8Array }> };
  path?: string;
  host?: string;
  scheme?: string;
  protocol?: string;
  /** Content length as Envoy saw it, int64 as a string; -1 when unknown. */
  size?: string | number;
  body?: string;
  raw_body?: Uint8Array;
}

/** context_extensions key naming the governed server (set per route in Envoy). */
export const serverContextKey = 'toolgate-server';
/** Fallback header naming the server, for front proxies that cannot set context_extensions. */
export const serverHeader = 'x-toolgate-server';
/** Envoy sets this when allow_partial_message let a truncated body through. */
export const partialBodyHeader = 'x-envoy-auth-partial-body';

export interface HttpView {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path with the query string, as the client sent it (a token in the query is refused). */
  url: string;
  host: string;
  scheme: string;
  headers: Record<string, string>;
  body: Uint8Array | string;
  bodyBytes: number;
  /** Envoy truncated the body, or it is shorter than the request's declared size. */
  partial: boolean;
  /** Content length Envoy saw, when it said. */
  declaredBytes?: number;
  server?: string;
  serverSource?: 'context_extensions' | 'header';
  sessionId?: string;
  requestId?: string;
}

export class CheckRequestError extends Error {
  override name = 'CheckRequestError';
}

function lowerHeaders(http: HttpAttributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(http.headers ?? {})) out[k.toLowerCase()] = v;
  for (const h of http.header_map?.headers ?? []) {
    if (!h.key) continue;
    const value = h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('utf8') : (h.value ?? '');
    const key = h.key.toLowerCase();
    // Envoy joins repeated headers with "," in the map form; do the same for header_map.
    out[key] = key in out ? `${out[key]},${value}` : value;
  }
  return out;
}

function declaredSize(size: string | number | undefined): number | undefined {
  if (size === undefined || size === '') return undefined;
  const n = Number(size);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Reads the HTTP request out of a CheckRequest; throws CheckRequestError when it has none. */
export function readHttp(req: CheckRequest): HttpView {
  const http = req.attributes?.request?.http;
  if (!http) throw new CheckRequestError('CheckRequest carries no attributes.request.http: is this an HTTP ext_authz filter?');
  const headers = lowerHeaders(http);
  const raw = http.raw_body && http.raw_body.length > 0 ? http.raw_body : undefined;
  const body: Uint8Array | string = raw ?? http.body ?? '';
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  const size = declaredSize(http.size);
  // Any truncation marker counts: a repeated header arrives joined ("false,true").
  const partial = (headers[partialBodyHeader] ?? '').split(',').some((v) => v.trim().toLowerCase() === 'true') || (size !== undefined && bodyBytes < size);
  const fromRoute = req.attributes?.context_extensions?.[serverContextKey];
  const fromHeader = headers[serverHeader];
  const server = fromRoute || fromHeader || undefined;
  const rawPath = http.path || headers[':path'] || '/';
  const q = rawPath.search(/[?#]/);
  return {
    method: (http.method || headers[':method'] || '').toUpperCase(),
    path: q < 0 ? rawPath : rawPath.slice(0, q),
    url: rawPath,
    host: http.host || headers[':authority'] || headers.host || '',
    scheme: http.scheme || headers[':scheme'] || headers['x-forwarded-proto'] || 'https',
    headers,
    body,
    bodyBytes,
    partial,
    ...(size !== undefined ? { declaredBytes: size } : {}),
    ...(server ? { server, serverSource: fromRoute ? 'context_extensions' : 'header' } as const : {}),
    ...(headers['mcp-session-id'] ? { sessionId: headers['mcp-session-id'] } : {}),
    ...(http.id ? { requestId: http.id } : {}),
  };
}
