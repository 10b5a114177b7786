// JSON-RPC 2.0 as MCP uses it: parse one message from an HTTP body and build error responses.
// Both front ends parse through here, so a body one of them refuses the other refuses too.
// Batches were removed from MCP in 2025-06-18 and are refused: a batch would let one HTTP
// request carry calls the authorizer decided as one.
//
// Bodies are read with the strict lossless parser (pkg/json/strict.ts), never JSON.parse: a
// repeated key is refused at any depth (a first-key-wins upstream would run another tool than
// the one decided), numbers keep their text (the approval digest and the forwarded body tell
// 1 from 1.0 and 1234567890123456789 from its rounded neighbour), a lone surrogate is refused,
// and nesting is bounded before anything recurses over it (the audit writer, the policy engine).
// Every such refusal is the sender's fault: 400, never "policy unavailable".
import { JsonNumber, JsonParseError, JsonValueError, isJsonObject, parseStrictJson, toPlainJson, type JsonObject, type JsonValue } from '../../../pkg/json/strict.ts';

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: string | number;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: JsonRpcError;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcMessage =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'response'; message: JsonRpcResponse };

/**
 * Stable error codes: JSON-RPC's own; -32000 for transport refusals as the MCP SDKs use it;
 * toolgate's own (-31001..-31010) outside JSON-RPC's reserved range (-32768..-32000), where MCP
 * 2026-07-28 asks new codes to go — in the legacy -32000..-32019 block -32002 means "resource
 * not found" to older clients and 2026-07-28 implementations must not emit it; and the codes
 * 2026-07-28 defines in the range it reserves (-32020..-32099), used only with the spec's
 * meaning (error-codes.test.ts holds all of this).
 */
export const ErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  /** A policy rule (or the policy's default) denied the call. */
  policyDenied: -31001,
  /** The call needs a human's approval first; data carries the approval reference. */
  approvalRequired: -31002,
  /** No policy is loaded for the server, or evaluation failed: fail closed. */
  policyUnavailable: -31003,
  /** The caller's token lacks a scope the tool needs. */
  insufficientScope: -31004,
  /** No valid bearer token (the HTTP status and WWW-Authenticate say more). */
  unauthenticated: -31005,
  /** The governed upstream server could not be reached or failed at the transport level. */
  upstreamUnavailable: -31006,
  /** A transport-level refusal (session, headers, size) before any message was read. */
  transport: -32000,
  /** The authorizer itself failed (a misconfigured route, a bug): fail closed. */
  internalError: -32603,
  /** A human denied the held call; data names who and why. */
  approvalDenied: -31007,
  /** The held call was not approved before its ApprovalRequest expired (timeout-to-abort). */
  approvalExpired: -31008,
  /** The approval was already spent: another replica or an earlier identical call released it. */
  alreadyReleased: -31009,
  /** A velocity limit (spec.session.limits) refused the call; data.retryAfterMs says when to try again. */
  rateLimited: -31010,
  /** MCP HeaderMismatch: an MCP-Protocol-Version / Mcp-Method / Mcp-Name header is missing, malformed or disagrees with the body. */
  headerMismatch: -32020,
  /** MCP MissingRequiredClientCapability: the request needs a client capability its _meta does not declare. */
  missingRequiredClientCapability: -32021,
  /** MCP UnsupportedProtocolVersion: neither toolgate nor the upstream speaks the requested version; data lists the supported ones. */
  unsupportedProtocolVersion: -32022,
} as const;

/** The codes MCP 2026-07-28 defines in its reserved range, by the name the schema gives them. */
export const mcpSpecErrorCodes = { headerMismatch: -32020, missingRequiredClientCapability: -32021, unsupportedProtocolVersion: -32022 } as const;

export class JsonRpcParseError extends Error {
  override name = 'JsonRpcParseError';
  readonly code: number;
  readonly id: JsonRpcId;
  constructor(code: number, message: string, id: JsonRpcId = null) {
    super(message);
    this.code = code;
    this.id = id;
  }
}

/** Levels of nesting a tool call's arguments may have (the envelope's two levels come on top). */
export const maxArgumentsDepth = 64;
const envelopeDepth = 2;

/**
 * An id as a JS value: a string, or a number the double represents exactly (1.0 reads as 1). An
 * id no double holds (12345678901234567890) is refused: the client would not recognise the reply.
 */
function idOf(v: JsonValue | undefined): string | number | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof JsonNumber) return v.toExactNumber();
  return undefined;
}

function parseError(err: JsonParseError): JsonRpcParseError {
  const inArguments = err.pointer === '/params/arguments' || err.pointer.startsWith('/params/arguments/');
  if (inArguments && (err.kind === 'too-deep' || err.kind === 'duplicate-key')) {
    const why = err.kind === 'too-deep' ? `tool arguments are nested deeper than ${maxArgumentsDepth} levels` : 'tool arguments repeat a key';
    return new JsonRpcParseError(ErrorCodes.invalidParams, `invalid params: ${why}: ${err.message}`);
  }
  if (err.kind === 'duplicate-key' || err.kind === 'too-deep') return new JsonRpcParseError(ErrorCodes.invalidRequest, `invalid request: ${err.message}`);
  return new JsonRpcParseError(ErrorCodes.parseError, `body is not JSON: ${err.message}`);
}

const setOwn = (o: object, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

/**
 * Only a tool call's arguments stay lossless (they are decided, digested and forwarded as
 * written); everything else in the message (progress tokens, capabilities, results a client
 * sends back) becomes plain JS values, as the code reading them expects numbers. A number no
 * double holds there is taken at its nearest double; one beyond the range of a double is refused.
 */
function plainOutsideArguments(value: JsonObject, id: JsonRpcId): void {
  const plain = (v: JsonValue | undefined) => (v === undefined ? v : toPlainJson(v, { inexactNumbers: 'nearest' }));
  try {
    for (const k of Object.keys(value)) if (k !== 'params' && k !== 'id') setOwn(value, k, plain(value[k]));
    const params = value.params;
    if (isJsonObject(params)) for (const k of Object.keys(params)) if (k !== 'arguments') setOwn(params, k, plain(params[k]));
  } catch (err) {
    if (err instanceof JsonValueError) throw new JsonRpcParseError(ErrorCodes.invalidRequest, `invalid request: ${err.message}`, id);
    throw err;
  }
}

/** Parses one JSON-RPC message; throws JsonRpcParseError saying what is wrong. Numbers stay JsonNumber (lossless). */
export function parseJsonRpc(body: string | Uint8Array, limits: { maxBytes?: number } = {}): JsonRpcMessage {
  let value: JsonValue;
  try {
    value = parseStrictJson(body, { maxDepth: maxArgumentsDepth + envelopeDepth, maxBytes: limits.maxBytes ?? Number.MAX_SAFE_INTEGER });
  } catch (err) {
    if (err instanceof JsonParseError) throw parseError(err);
    throw err;
  }
  if (Array.isArray(value)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'JSON-RPC batches are not supported (removed in MCP 2025-06-18); send one message per request');
  if (!isJsonObject(value)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'a JSON-RPC message must be an object');
  const rawId = idOf(value.id);
  const id = rawId ?? null;
  if (value.jsonrpc !== '2.0') throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'jsonrpc must be "2.0"', id);
  if (value.params !== undefined && !isJsonObject(value.params)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'params must be an object (MCP uses named parameters)', id);
  // The id goes back to the client in replies: a plain number (1.0 is the id 1).
  if (value.id instanceof JsonNumber && rawId !== undefined) (value as Record<string, unknown>).id = rawId;
  plainOutsideArguments(value, id);
  if ('method' in value) {
    if (typeof value.method !== 'string' || value.method === '') throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'method must be a non-empty string', id);
    if (!('id' in value)) return { kind: 'notification', message: value as unknown as JsonRpcNotification };
    if (rawId === undefined) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'id must be a string or a number a double holds exactly (MCP forbids null ids)');
    return { kind: 'request', message: value as unknown as JsonRpcRequest };
  }
  if ('result' in value || 'error' in value) {
    if (!('id' in value)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'a response needs an id');
    return { kind: 'response', message: value as unknown as JsonRpcResponse };
  }
  throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'not a request, notification or response: no method, result or error', id);
}

export function errorResponse(id: JsonRpcId, error: JsonRpcError): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error };
}
