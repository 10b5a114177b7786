// The MCP request headers (2026-07-28 Streamable HTTP, SEP-2243) checked against the body.
//
// Mcp-Method mirrors `method`, Mcp-Name mirrors `params.name` / `params.uri` / `params.taskId`,
// MCP-Protocol-Version mirrors `_meta["io.modelcontextprotocol/protocolVersion"]`. Routers
// (Envoy, Istio, load balancers) route and rate-limit on these headers while toolgate and the
// upstream act on the body: a header that disagrees with the body is the classic bypass (the
// router sends "tools/list" to a permissive backend, the body runs tools/call). So whenever one
// of these headers is present — whatever the protocol version — it must agree with the body
// exactly, and a 2026-07-28 (or any later, unknown) request must carry them, as the spec's
// Server Validation requires. Both front ends call refuseHeaderMismatch with the same inputs.
//
// Compared strictly: a repeated header is refused (which copy would a router use?), an empty
// one is malformed, values are case-sensitive and never trimmed or Unicode-normalised beyond
// what the HTTP parser did, a plain value may hold only visible ASCII, space and tab, and the
// spec's `=?base64?…?=` sentinel is the only encoding: canonical Base64 of valid UTF-8 (a BOM
// kept, not stripped). Percent-encoding is not an encoding here: "%41" is three characters.
//
// Not checked: Mcp-Param-{Name} headers from `x-mcp-header` tool parameters. The spec lets an
// intermediary that does not recognise one forward it and otherwise ignore it; toolgate decides
// on the body's arguments, never on those headers, and the upstream server that declared them
// must validate them itself.
import type { RefusalContext, Refusal } from './outcome.ts';
import { ErrorCodes, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.ts';

/** Lower-cased header names; an array when the header was repeated (Node's headersDistinct). */
export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

export const protocolVersionMetaKey = 'io.modelcontextprotocol/protocolVersion';

/** Versions that carry their version, identity and capabilities in each request's _meta (and require these headers). */
export const modernProtocolVersions: readonly string[] = ['2026-07-28'];

/** Which params field Mcp-Name mirrors, per method (SEP-2243's table, plus SEP-2663's tasks rows). */
export const mcpNameSources: Readonly<Record<string, string>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

const sentinelPrefix = '=?base64?';
const sentinelSuffix = '?=';
const canonicalBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What is wrong with the headers of one request, or undefined when they agree with its body. */
export type HeaderMismatch = { message: string };

type Header = { present: false } | { present: true; value: string } | { present: true; error: string };

function quote(s: string): string {
  const q = JSON.stringify(s);
  return q.length > 130 ? `${q.slice(0, 127)}…"` : q;
}

function one(headers: HeaderValues, name: string): string[] | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? [v] : [...v];
}

/** A header's value as the client meant it: plain visible ASCII, or the decoded Base64 sentinel where `encoded` allows it. */
function read(headers: HeaderValues, display: string, encoded: boolean): Header {
  const values = one(headers, display.toLowerCase());
  if (values === undefined) return { present: false };
  if (values.length !== 1) return { present: true, error: `${display} header is repeated (${values.length} times); send it once` };
  const raw = values[0]!;
  if (raw === '') return { present: true, error: `${display} header is empty` };
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x09 && (c < 0x20 || c > 0x7e)) {
      return { present: true, error: `${display} header contains a character outside visible ASCII (code ${c} at ${i}); non-ASCII values are sent as =?base64?…?=` };
    }
  }
  // The HTTP parser strips surrounding whitespace, so a router never saw it: only a sentinel may carry it.
  if (raw.trim() !== raw) return { present: true, error: `${display} header has leading or trailing whitespace; such values are sent as =?base64?…?=` };
  if (!encoded || !(raw.startsWith(sentinelPrefix) && raw.endsWith(sentinelSuffix) && raw.length >= sentinelPrefix.length + sentinelSuffix.length)) {
    return { present: true, value: raw };
  }
  const b64 = raw.slice(sentinelPrefix.length, raw.length - sentinelSuffix.length);
  if (!canonicalBase64.test(b64) || Buffer.from(b64, 'base64').toString('base64') !== b64) {
    return { present: true, error: `${display} header is not valid =?base64?…?= (canonical Base64 required)` };
  }
  try {
    return { present: true, value: utf8.decode(Buffer.from(b64, 'base64')) };
  } catch {
    return { present: true, error: `${display} header's Base64 value is not valid UTF-8` };
  }
}

function paramsOf(msg: JsonRpcMessage): Record<string, unknown> | undefined {
  if (msg.kind === 'response') return undefined;
  const p = msg.message.params;
  return p !== null && typeof p === 'object' && !Array.isArray(p) ? p : undefined;
}

/** The body's `_meta` protocol version: absent, a string, or present but not a string. */
function metaVersion(params: Record<string, unknown> | undefined): { present: false } | { present: true; value: unknown } {
  const meta = params?._meta;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta) || !Object.hasOwn(meta, protocolVersionMetaKey)) return { present: false };
  return { present: true, value: (meta as Record<string, unknown>)[protocolVersionMetaKey] };
}

/** The body value Mcp-Name names: the table's field for its methods, else params.name or params.uri when one is a string. */
function nameSource(method: string, params: Record<string, unknown> | undefined): { field: string; value: string | undefined; required: boolean } {
  const field = Object.hasOwn(mcpNameSources, method) ? mcpNameSources[method]! : undefined;
  if (field !== undefined) {
    const v = params?.[field];
    return { field: `params.${field}`, value: typeof v === 'string' ? v : undefined, required: true };
  }
  for (const f of ['name', 'uri']) {
    const v = params?.[f];
    if (typeof v === 'string') return { field: `params.${f}`, value: v, required: false };
  }
  return { field: 'params.name', value: undefined, required: false };
}

/**
 * Whether the MCP headers of one HTTP request agree with its body (`msg`; undefined for a GET or
 * DELETE, which carries none). Pure: both front ends and the corpus test call exactly this.
 */
export function mcpHeaderMismatch(headers: HeaderValues, msg: JsonRpcMessage | undefined): HeaderMismatch | undefined {
  const method = read(headers, 'Mcp-Method', false);
  const name = read(headers, 'Mcp-Name', true);
  const version = read(headers, 'MCP-Protocol-Version', false);
  for (const h of [version, method, name]) if (h.present && 'error' in h) return { message: `Header mismatch: ${h.error}` };
  const value = (h: Header) => (h.present && 'value' in h ? h.value : undefined);
  const headerMethod = value(method);
  const headerName = value(name);
  const headerVersion = value(version);

  if (msg === undefined || msg.kind === 'response') {
    const what = msg === undefined ? 'this request carries no JSON-RPC message' : 'the body is a JSON-RPC response, which has no method';
    if (headerMethod !== undefined) return { message: `Header mismatch: Mcp-Method header is ${quote(headerMethod)} but ${what}` };
    if (headerName !== undefined) return { message: `Header mismatch: Mcp-Name header is ${quote(headerName)} but ${what}` };
    return undefined;
  }

  const params = paramsOf(msg);
  const meta = metaVersion(params);
  if (headerVersion !== undefined && meta.present && meta.value !== headerVersion) {
    const body = typeof meta.value === 'string' ? quote(meta.value) : `not a string (${JSON.stringify(meta.value) ?? 'undefined'})`;
    return { message: `Header mismatch: MCP-Protocol-Version header ${quote(headerVersion)} does not match the body's _meta["${protocolVersionMetaKey}"] ${body}` };
  }
  const bodyMethod = msg.message.method;
  if (headerMethod !== undefined && headerMethod !== bodyMethod) {
    return { message: `Header mismatch: Mcp-Method header value ${quote(headerMethod)} does not match body value ${quote(bodyMethod)}` };
  }
  const source = nameSource(bodyMethod, params);
  if (headerName !== undefined && headerName !== source.value) {
    const body = source.value === undefined ? `the body has no string ${source.field}` : `body value ${quote(source.value)} (${source.field})`;
    return { message: `Header mismatch: Mcp-Name header value ${quote(headerName)} does not match ${body}` };
  }

  // Which era the request is in. A body with a per-request version (_meta), whatever it names,
  // is in the per-request era: an unknown one is held to the newest rules (fail closed) and the
  // request path refuses it as unsupported. A header naming a per-request version over a body
  // without one is refused below. A header naming an unknown version over a body without _meta
  // mirrors nothing: the version check of the request path refuses it as unsupported.
  const modern = meta.present || (headerVersion !== undefined && modernProtocolVersions.includes(headerVersion));
  if (!modern) return undefined;
  if (msg.kind === 'notification') return undefined; // the spec defines no header requirements for notification POSTs
  if (headerVersion === undefined) return { message: 'Header mismatch: MCP-Protocol-Version header is required (the body declares a per-request protocol version)' };
  if (!meta.present) return { message: `Header mismatch: MCP-Protocol-Version header is ${quote(headerVersion)} but the body's params._meta carries no "${protocolVersionMetaKey}"` };
  if (headerMethod === undefined) return { message: `Header mismatch: Mcp-Method header is required (body method ${quote(bodyMethod)})` };
  if (source.required && source.value !== undefined && headerName === undefined) {
    return { message: `Header mismatch: Mcp-Name header is required for ${bodyMethod} (body ${source.field} ${quote(source.value)})` };
  }
  return undefined;
}

/** The id a refusal answers with: the request's, else none. */
function idOf(msg: JsonRpcMessage | undefined): JsonRpcId {
  return msg?.kind === 'request' ? msg.message.id : null;
}

/** What a front end calls: the gate's refusal (400, HeaderMismatch -32020) when the headers disagree with the body. */
export function refuseHeaderMismatch(
  gate: { refuse(ctx: RefusalContext, refusal: Refusal, what?: { method?: string }): Refusal },
  ctx: RefusalContext, headers: HeaderValues, msg: JsonRpcMessage | undefined,
): Refusal | undefined {
  const mismatch = mcpHeaderMismatch(headers, msg);
  if (!mismatch) return undefined;
  const method = msg && msg.kind !== 'response' ? { method: msg.message.method } : {};
  return gate.refuse(ctx, { stage: 'message', httpStatus: 400, id: idOf(msg), error: { code: ErrorCodes.headerMismatch, message: mismatch.message } }, method);
}
