// Builds envoy.service.auth.v3.CheckResponse messages. A gate Refusal becomes a denied_response,
// which Envoy's ext_authz filter answers the client with as is (sendLocalReply with its status,
// body and headers; a status of 200 included, see gate/README.md); an allow becomes an
// ok_response that tells Envoy which headers to set on and strip from the upstream request.
import { ErrorCodes, errorResponse } from '../gate/jsonrpc.ts';
import type { Refusal } from '../gate/outcome.ts';
import type { CallerIdentity, Verdict } from '../gate/types.ts';

/** google.rpc.Code values Envoy distinguishes (any non-OK code is a denial). */
export const GrpcCode = {
  ok: 0,
  invalidArgument: 3,
  permissionDenied: 7,
  failedPrecondition: 9,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
} as const;

export const decisionIdHeader = 'x-toolgate-decision-id';
export const agentHeader = 'x-toolgate-agent';
export const operatorHeader = 'x-toolgate-operator';

interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD';
}

export interface CheckResponse {
  status: { code: number; message?: string };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[]; response_headers_to_add: HeaderValueOption[] };
}

const maxHeaderValue = 256;
/** Characters a header value keeps as they are: visible ASCII but `%`. */
const plain = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * Header values come from token claims and client input: anything outside visible ASCII (and
 * `%` itself, so the encoding stays reversible) is percent-encoded, which rules out CR/LF
 * injection and non-ASCII bytes Envoy would refuse, and the length is capped.
 */
export function sanitizeHeaderValue(value: string): string {
  const trimmed = value.trim();
  // The common case (ids, names): nothing to encode, so no per-character pass (~4 µs a Check).
  if (trimmed.length <= maxHeaderValue && plain.test(trimmed)) return trimmed;
  const encoded = Array.from(trimmed, (ch) => (plain.test(ch) ? ch : percentEncode(ch))).join('');
  return encoded.length > maxHeaderValue ? encoded.slice(0, maxHeaderValue).replace(/%[0-9A-F]?$/, '') : encoded;
}

function percentEncode(ch: string): string {
  // A lone surrogate has no UTF-8 encoding: replace it rather than fail the whole response.
  if (ch.length === 1 && ch >= '\ud800' && ch <= '\udfff') return '%EF%BF%BD';
  return Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

const header = (key: string, value: string): HeaderValueOption => ({ header: { key, value: sanitizeHeaderValue(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });

/**
 * A header of a denial, which the authorizer wrote itself (a challenge, Retry-After): sent as the
 * proxy sends it, neither percent-encoded nor cut, only anything outside visible ASCII replaced so
 * it can never split the response.
 */
const deniedHeader = (key: string, value: string): HeaderValueOption => ({ header: { key, value: value.replace(/[^\x20-\x7e]/g, '?') }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });

/**
 * The google.rpc.Code Envoy logs for a denial. Any non-OK code denies; the HTTP status the client
 * gets is the denied_response's, so this only has to tell the operator's logs what happened.
 */
export function grpcCodeFor(r: Pick<Refusal, 'httpStatus' | 'error'>): number {
  if (r.httpStatus === 401) return GrpcCode.unauthenticated;
  if (r.httpStatus === 503 || r.error.code === ErrorCodes.policyUnavailable) return GrpcCode.unavailable;
  if (r.httpStatus >= 500) return GrpcCode.internal;
  return GrpcCode.permissionDenied;
}

/** `grpcCode` overrides the derived code where Envoy's logs should say more (a misconfigured route). */
export function deniedResponse(r: Refusal, grpcCode?: number): CheckResponse {
  const headers = [deniedHeader('content-type', 'application/json')];
  if (r.wwwAuthenticate) headers.push(deniedHeader('www-authenticate', r.wwwAuthenticate));
  if (r.verdict) headers.push(deniedHeader(decisionIdHeader, r.verdict.decisionId));
  for (const [k, v] of Object.entries(r.headers ?? {})) headers.push(deniedHeader(k, v));
  return {
    status: { code: grpcCode ?? grpcCodeFor(r), message: r.error.message },
    denied_response: { status: { code: r.httpStatus }, headers, body: JSON.stringify(errorResponse(r.id, r.error)) },
  };
}

/**
 * A held call answered in the 2026-07-28 protocol's terms: Envoy sends the client a JSON-RPC
 * result (HTTP 200) carrying the InputRequiredResult, never the upstream's. Still a denial to
 * Envoy (the request goes no further); the client's retry is checked afresh.
 */
export function inputRequiredResponse(r: Refusal, result: Record<string, unknown>): CheckResponse {
  const headers = [deniedHeader('content-type', 'application/json')];
  if (r.verdict) headers.push(deniedHeader(decisionIdHeader, r.verdict.decisionId));
  return {
    status: { code: GrpcCode.permissionDenied, message: r.error.message },
    denied_response: { status: { code: 200 }, headers, body: JSON.stringify({ jsonrpc: '2.0', id: r.id, result }) },
  };
}

export interface OkOptions {
  /** Forward the caller's Authorization header upstream (default false: no token passthrough). */
  passAuthorization?: boolean;
}

/**
 * Identity headers are overwritten, never appended, and removed when we have no value for
 * them, so a client can never smuggle its own x-toolgate-agent past the authorizer.
 */
export function okResponse(caller: CallerIdentity | undefined, verdict: Verdict | undefined, o: OkOptions = {}): CheckResponse {
  const headers: HeaderValueOption[] = [];
  const remove: string[] = o.passAuthorization ? [] : ['authorization'];
  const set = (key: string, value: string | undefined) => (value ? headers.push(header(key, value)) : remove.push(key));
  set(decisionIdHeader, verdict?.decisionId);
  set(agentHeader, caller?.agent);
  set(operatorHeader, caller?.operator);
  return {
    status: { code: GrpcCode.ok },
    ok_response: { headers, headers_to_remove: remove, response_headers_to_add: verdict ? [header(decisionIdHeader, verdict.decisionId)] : [] },
  };
}
