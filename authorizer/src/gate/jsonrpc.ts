// JSON-RPC 2.0 as MCP uses it: parse one message from an HTTP body and build error responses.
// Both front ends parse through here, so a body one of them refuses the other refuses too.
// Batches were removed from MCP in 2025-06-18 and are refused: a batch would let one HTTP
// request carry calls the authorizer decided as one.
import { isObject } from '../../../pkg/lang/is-object.ts';

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

/** Stable error codes. JSON-RPC's own, then toolgate's in the implementation-defined range. */
export const ErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  /** A policy rule (or the policy's default) denied the call. */
  policyDenied: -32001,
  /** The call needs a human's approval first; data carries the approval reference. */
  approvalRequired: -32002,
  /** No policy is loaded for the server, or evaluation failed: fail closed. */
  policyUnavailable: -32003,
  /** The caller's token lacks a scope the tool needs. */
  insufficientScope: -32004,
  /** No valid bearer token (the HTTP status and WWW-Authenticate say more). */
  unauthenticated: -32005,
  /** The governed upstream server could not be reached or failed at the transport level. */
  upstreamUnavailable: -32006,
  /** A transport-level refusal (session, headers, size) before any message was read. */
  transport: -32000,
  /** The authorizer itself failed (a misconfigured route, a bug): fail closed. */
  internalError: -32603,
  /** A human denied the held call; data names who and why. */
  approvalDenied: -32007,
  /** The held call was not approved before its ApprovalRequest expired (timeout-to-abort). */
  approvalExpired: -32008,
  /** The approval was already spent: another replica or an earlier identical call released it. */
  alreadyReleased: -32009,
} as const;

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

const isId = (v: unknown): v is string | number => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/** Parses one JSON-RPC message; throws JsonRpcParseError saying what is wrong. */
export function parseJsonRpc(body: string | Uint8Array): JsonRpcMessage {
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: false }).decode(body);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new JsonRpcParseError(ErrorCodes.parseError, `body is not JSON: ${withoutInput((err as Error).message)}`);
  }
  if (Array.isArray(value)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'JSON-RPC batches are not supported (removed in MCP 2025-06-18); send one message per request');
  if (!isObject(value)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'a JSON-RPC message must be an object');
  const id = isId(value.id) ? value.id : null;
  if (value.jsonrpc !== '2.0') throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'jsonrpc must be "2.0"', id);
  if (value.params !== undefined && !isObject(value.params)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'params must be an object (MCP uses named parameters)', id);
  if ('method' in value) {
    if (typeof value.method !== 'string' || value.method === '') throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'method must be a non-empty string', id);
    if (!('id' in value)) return { kind: 'notification', message: value as unknown as JsonRpcNotification };
    if (!isId(value.id)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'id must be a string or a number (MCP forbids null ids)');
    return { kind: 'request', message: value as unknown as JsonRpcRequest };
  }
  if ('result' in value || 'error' in value) {
    if (!('id' in value)) throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'a response needs an id');
    return { kind: 'response', message: value as unknown as JsonRpcResponse };
  }
  throw new JsonRpcParseError(ErrorCodes.invalidRequest, 'not a request, notification or response: no method, result or error', id);
}

/**
 * V8's JSON.parse messages quote a stretch of the input (`Unexpected token 'x', "{"a":x..." is not
 * valid JSON`). The message goes into logs and the audit trail, where the body's arguments must
 * never appear unredacted, so the quoted input is cut and only the position is kept.
 */
function withoutInput(message: string): string {
  return message.replace(/, ".*" is not valid JSON$/s, '');
}

export function errorResponse(id: JsonRpcId, error: JsonRpcError): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error };
}
