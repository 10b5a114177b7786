// Builds envoy.service.auth.v3.CheckResponse messages. A deny becomes a denied_response Envoy
// sends to the client as is (HTTP status, JSON-RPC error body, WWW-Authenticate); an allow becomes
// an ok_response that tells Envoy which headers to set on and strip from the upstream request.
import { errorResponse, type JsonRpcError, type JsonRpcId } from '../gate/jsonrpc.ts';
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

export interface Denial {
  httpStatus: number;
  /** google.rpc.Code; derived from httpStatus when absent. */
  grpcCode?: number;
  id: JsonRpcId;
  error: JsonRpcError;
  wwwAuthenticate?: string;
  verdict?: Verdict;
}

const maxHeaderValue = 256;

/**
 * Header values come from token claims and client input: anything outside visible ASCII (and
 * `%` itself, so the encoding stays reversible) is percent-encoded, which rules out CR/LF
 * injection and non-ASCII bytes Envoy would refuse, and the length is capped.
 */
export function sanitizeHeaderValue(value: string): string {
  const encoded = Array.from(value.trim(), (ch) => (/^[\x20-\x24\x26-\x7e]$/.test(ch) ? ch : percentEncode(ch))).join('');
  return encoded.length > maxHeaderValue ? encoded.slice(0, maxHeaderValue).replace(/%[0-9A-F]?$/, '') : encoded;
}

function percentEncode(ch: string): string {
  // A lone surrogate has no UTF-8 encoding: replace it rather than fail the whole response.
  if (ch.length === 1 && ch >= '\ud800' && ch <= '\udfff') return '%EF%BF%BD';
  return Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

const header = (key: string, value: string): HeaderValueOption => ({ header: { key, value: sanitizeHeaderValue(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });

export function grpcCodeFor(httpStatus: number): number {
  if (httpStatus === 401) return GrpcCode.unauthenticated;
  if (httpStatus === 503) return GrpcCode.unavailable;
  if (httpStatus >= 500) return GrpcCode.internal;
  return GrpcCode.permissionDenied;
}

export function deniedResponse(d: Denial): CheckResponse {
  const headers = [header('content-type', 'application/json')];
  if (d.wwwAuthenticate) headers.push(header('www-authenticate', d.wwwAuthenticate));
  if (d.verdict) headers.push(header(decisionIdHeader, d.verdict.decisionId));
  return {
    status: { code: d.grpcCode ?? grpcCodeFor(d.httpStatus), message: d.error.message },
    denied_response: { status: { code: d.httpStatus }, headers, body: JSON.stringify(errorResponse(d.id, d.error)) },
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
