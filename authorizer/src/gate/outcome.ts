// What the gate answers, independent of transport: a message goes upstream (allow) or is refused
// with an HTTP status, a JSON-RPC error and, for authentication, a WWW-Authenticate challenge.
// The Envoy front end renders a Refusal as a CheckResponse denied_response, the MCP proxy as
// its HTTP response; neither chooses a status or a code of its own. The status convention is
// defended in README.md beside this file.
import { ErrorCodes, type JsonRpcError, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from './jsonrpc.ts';
import type { CallerIdentity, FrontEnd, ToolCall, Verdict } from './types.ts';

/** Where in the pipeline a message was refused (a label of the refusal metric and audit record). */
export type RefusalStage =
  /** Before any message was read: HTTP method, headers, session, body size, readiness, route. */
  | 'transport'
  /** No valid bearer token, or no identity settings to check one against. */
  | 'authentication'
  /** The body is not one JSON-RPC message. */
  | 'parse'
  /** A message the gate does not let through: a method, a request without an id, bad params, an ambiguous tool. */
  | 'message'
  /** The policy did not allow the tools/call (deny, approval required, unavailable, missing scope). */
  | 'decision'
  /** A held call was not released: pending, denied, expired, released elsewhere, or the API server failed. */
  | 'approval'
  /** The authorizer itself failed; the call is refused (fail closed). */
  | 'internal';

export interface Refusal {
  stage: RefusalStage;
  httpStatus: number;
  /** JSON-RPC id of the refused request; null when there was none or it could not be read. */
  id: JsonRpcId;
  error: JsonRpcError;
  /** RFC 6750 challenge, for authentication failures and insufficient scope. */
  wwwAuthenticate?: string;
  /** Set when a policy decision was taken (its id goes to the client and the audit trail). */
  verdict?: Verdict;
  /** Further response headers (Allow, Retry-After). */
  headers?: Readonly<Record<string, string>>;
}

export interface Allow {
  kind: 'allow';
  method: string;
  message: JsonRpcMessage;
  /** Present for a decided tools/call or other governed operation (call.operation says which). */
  verdict?: Verdict;
  call?: ToolCall;
}

export type GateOutcome = Allow | { kind: 'refuse'; refusal: Refusal };

/** A tools/call the policy holds for human approval, when the gate has an approval coordinator. */
export interface HeldCall {
  message: JsonRpcRequest;
  call: ToolCall;
  verdict: Verdict;
}

/** What admit() answers: allow, refuse, or hold for approval (released by Gate.release). */
export type Admission = GateOutcome | { kind: 'hold'; held: HeldCall };

/** Who and what a refusal concerns, as far as it is known when it happens (for the audit trail). */
export interface RefusalContext {
  frontEnd: FrontEnd;
  httpMethod?: string;
  caller?: CallerIdentity;
  /** A session the front end has verified belongs to the caller. */
  sessionId?: string;
}

/** One refusal as the audit trail and the metrics see it. */
export interface RefusalRecord {
  frontEnd: FrontEnd;
  stage: RefusalStage;
  httpMethod?: string;
  /** JSON-RPC method, once the message was read. */
  method?: string;
  httpStatus: number;
  code: number;
  reason: string;
  caller?: CallerIdentity;
  server?: string;
  tool?: string;
  /** The resource URI or prompt name of a refused resources/*, prompts/get or completion. */
  target?: string;
  sessionId?: string;
  requestId?: JsonRpcId;
  decisionId?: string;
}

/**
 * The HTTP status of a message the gate read and refused. A request (it has an id) is answered
 * 200 with the JSON-RPC error, because MCP clients take any other status for a transport failure
 * and never show the error; insufficient scope is the exception, 403 with its challenge, so a
 * client can step up its authorization (MCP authorization, RFC 6750 §3.1). A notification or
 * response has no reply to carry an error, so the status is the only answer: 400 for a malformed
 * one, 403 for one the policy refuses.
 */
export function refusedMessageStatus(isRequest: boolean, code: number): number {
  if (code === ErrorCodes.insufficientScope) return 403;
  if (isRequest) return 200;
  return code === ErrorCodes.invalidRequest || code === ErrorCodes.invalidParams ? 400 : 403;
}

/** The one message for a body over the limit, whether the size was declared or counted while reading. */
export function bodyTooLargeMessage(limit: number): string {
  return `request body larger than ${limit} bytes`;
}
