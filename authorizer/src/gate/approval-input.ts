// A held tools/call in the 2026-07-28 protocol's own terms (Multi Round-Trip Requests): instead
// of an error the client answers by hand, a pending approval is answered with an
// InputRequiredResult carrying a URL-mode elicitation that says who must approve and how
// (`kubectl mcp approve …`). The client shows it, and retries the same request once the human
// says it is done; the retry is decided afresh and the gate's retry mode re-finds the approval
// by its digest — the caller's identity and the exact arguments — so a retry by anyone else, or
// with other arguments, is a new call needing its own approval.
//
// Both front ends answer so. The proxy adds a requestState carrying only the approval's name,
// for the client to echo: nothing is decided from it (tampering can do no worse than fail), and
// it and toolgate's input response are removed before the request goes upstream, which never saw
// them. An upstream's own requestState (its own MRTR rounds) is passed on untouched.
// ext_authz cannot change the body Envoy forwards, so it sends no requestState (the spec then
// forbids the client to send one) and the retry reaches the upstream with toolgate's input
// response beside any others, which a server "SHOULD ignore" as information it does not
// recognise (basic/patterns/mrtr.mdx, Error Handling).
//
// A client that does not declare URL-mode elicitation gets the approvalRequired error as on
// the session path (an InputRequiredResult it cannot act on would only make it retry at once).
import { isObject as isJsonObject } from '../../../pkg/lang/is-object.ts';
import { ErrorCodes, type JsonRpcRequest } from './jsonrpc.ts';
import type { Refusal } from './outcome.ts';

/** toolgate's key in inputRequests / inputResponses. */
export const approvalInputKey = 'io.toolgate/approval';
const statePrefix = 'toolgate-approval:v1:';

export const clientCapabilitiesMetaKey = 'io.modelcontextprotocol/clientCapabilities';

/** Whether the request's _meta declares URL-mode elicitation (elicitation: {} alone means form mode only). */
export function declaresUrlElicitation(req: JsonRpcRequest): boolean {
  const meta = req.params?._meta;
  const caps = isJsonObject(meta) ? (meta as Record<string, unknown>)[clientCapabilitiesMetaKey] : undefined;
  const elicitation = isJsonObject(caps) ? (caps as Record<string, unknown>).elicitation : undefined;
  return isJsonObject(elicitation) && isJsonObject((elicitation as Record<string, unknown>).url);
}

/** The client's answer to toolgate's elicitation on this retry, when it carries one. */
export function approvalInputAction(req: JsonRpcRequest): string | undefined {
  const responses = req.params?.inputResponses;
  const mine = isJsonObject(responses) ? (responses as Record<string, unknown>)[approvalInputKey] : undefined;
  const action = isJsonObject(mine) ? (mine as Record<string, unknown>).action : undefined;
  return typeof action === 'string' ? action : undefined;
}

interface PendingData { approval?: { namespace?: unknown; name?: unknown }; phase?: unknown; approve?: unknown }

/**
 * The InputRequiredResult for a refusal that says the call waits for approval, or undefined when
 * the refusal is anything else (denied, expired, unavailable) or the client cannot be asked.
 */
export function approvalInputRequired(refusal: Refusal, req: JsonRpcRequest, approvalUrl: (namespace: string, name: string) => string, o: { requestState: boolean } = { requestState: true }): Record<string, unknown> | undefined {
  if (refusal.error.code !== ErrorCodes.approvalRequired || !declaresUrlElicitation(req)) return undefined;
  const data = (refusal.error.data ?? {}) as PendingData;
  const namespace = data.approval?.namespace;
  const name = data.approval?.name;
  if (typeof namespace !== 'string' || typeof name !== 'string' || data.phase !== 'Pending' || typeof data.approve !== 'string') return undefined;
  return {
    resultType: 'input_required',
    inputRequests: {
      [approvalInputKey]: {
        method: 'elicitation/create',
        params: { mode: 'url', message: `${refusal.error.message}. Ask an approver to run: ${data.approve}`, url: approvalUrl(namespace, name) },
      },
    },
    ...(o.requestState ? { requestState: `${statePrefix}${namespace}/${name}` } : {}),
  };
}

/**
 * What a front end answers a held call that was not released: the InputRequiredResult, unless
 * the client declined or cancelled toolgate's elicitation on this retry (then undefined: the
 * pending error ends the round trip instead of asking again).
 */
export function approvalInputFor(refusal: Refusal, req: JsonRpcRequest, o: { requestState: boolean }): Record<string, unknown> | undefined {
  const action = approvalInputAction(req);
  return action === undefined || action === 'accept' ? approvalInputRequired(refusal, req, defaultApprovalUrl, o) : undefined;
}

/** Where an approval is shown: a URN naming the ApprovalRequest unless a console URL is configured. */
export const defaultApprovalUrl = (namespace: string, name: string): string => `urn:toolgate:approvalrequest:${encodeURIComponent(namespace)}:${encodeURIComponent(name)}`;

/** The request as it goes upstream: toolgate's own requestState and input response removed. */
export function withoutApprovalInput(req: JsonRpcRequest): JsonRpcRequest {
  const params = req.params;
  if (!params) return req;
  const out: Record<string, unknown> = { ...params };
  if (typeof out.requestState === 'string' && out.requestState.startsWith(statePrefix)) delete out.requestState;
  if (isJsonObject(out.inputResponses)) {
    const rest: Record<string, unknown> = { ...(out.inputResponses as Record<string, unknown>) };
    delete rest[approvalInputKey];
    if (Object.keys(rest).length === 0) delete out.inputResponses;
    else out.inputResponses = rest;
  }
  return { ...req, params: out };
}
