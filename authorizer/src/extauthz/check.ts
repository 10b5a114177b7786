// One ext_authz Check: the HTTP request Envoy describes goes through the gate's stages and the
// outcome becomes a CheckResponse. This file holds no decision logic and picks no status or
// error code beyond its own transport (an HTTP request that cannot be a Streamable HTTP
// message, a route that names no server, a body Envoy truncated): the gate answers the rest,
// exactly as it answers the MCP proxy. Fail closed: a request we cannot read, a truncated body
// or any exception is a denial.
import type { Logger } from 'pino';
import { approvalInputFor } from '../gate/approval-input.ts';
import type { Gate } from '../gate/gate.ts';
import { ErrorCodes } from '../gate/jsonrpc.ts';
import { refuseHeaderMismatch } from '../gate/mcp-headers.ts';
import type { GateOutcome, Refusal, RefusalContext } from '../gate/outcome.ts';
import type { CallerIdentity } from '../gate/types.ts';
import type { CheckOutcome, ExtAuthzMetrics } from './metrics.ts';
import { CheckRequestError, readHttp, serverContextKey, serverHeader, type CheckRequest } from './request.ts';
import { deniedResponse, GrpcCode, inputRequiredResponse, okResponse, type CheckResponse } from './response.ts';

export interface CheckOptions {
  gate: Gate;
  log: Logger;
  metrics?: ExtAuthzMetrics;
  /** Forward the caller's Authorization header upstream. Default false (no token passthrough). */
  passAuthorization?: boolean;
  /**
   * Accept the x-toolgate-server header when the route sets no context extension. Default false:
   * a client can send the header itself unless the proxy overwrites it first, so it names the
   * server only where the deployment says the proxy sets it (Envoy Gateway's earlyRequestHeaders);
   * plain Envoy and Istio name the server in context_extensions.
   */
  trustServerHeader?: boolean;
}

/** Per Check: aborted shortly before Envoy's deadline, so a slow tool catalog cannot outlast the Check. */
export interface CheckCall {
  signal?: AbortSignal;
}

type Answer = { response: CheckResponse; outcome: CheckOutcome; httpStatus: number };

export function createCheckHandler(o: CheckOptions): (req: CheckRequest, call?: CheckCall) => Promise<CheckResponse> {
  const { gate } = o;

  function refused(r: Refusal, grpcCode?: number): Answer {
    return { response: deniedResponse(r, grpcCode), outcome: checkOutcome(r), httpStatus: r.httpStatus };
  }

  function allowed(caller: CallerIdentity, outcome?: Extract<GateOutcome, { kind: 'allow' }>): Answer {
    return { response: okResponse(caller, outcome?.verdict, { passAuthorization: o.passAuthorization ?? false }), outcome: 'allow', httpStatus: 200 };
  }

  async function check(req: CheckRequest, ctx: RefusalContext, signal: AbortSignal | undefined): Promise<Answer> {
    const view = readHttp(req);
    ctx.httpMethod = view.method;
    // The Streamable HTTP transport: POST carries messages, GET opens the SSE stream, DELETE ends the session.
    if (view.method !== 'POST' && view.method !== 'GET' && view.method !== 'DELETE') {
      return refused(gate.transportRefusal(ctx, 405, `HTTP method ${view.method || '(none)'} is not part of MCP Streamable HTTP (POST, GET, DELETE)`, { headers: { allow: 'GET, POST, DELETE' } }));
    }
    const unavailable = gate.unavailable(ctx);
    if (unavailable) return refused(unavailable);
    const server = view.serverSource === 'header' && o.trustServerHeader !== true ? undefined : view.server;
    if (!server) {
      return refused(gate.transportRefusal(ctx, 500,
        `no governed MCP server for this route: set context_extensions["${serverContextKey}"] on the Envoy route (or the ${serverHeader} header)`,
        { code: ErrorCodes.internalError }), GrpcCode.failedPrecondition);
    }
    const authenticated = await gate.authenticate({ authorization: view.headers.authorization, url: view.url, server }, ctx);
    if (!authenticated.ok) return refused(authenticated.refusal);
    const caller = authenticated.caller;
    ctx.caller = caller;
    if (view.sessionId) ctx.sessionId = view.sessionId;
    if (view.method !== 'POST') {
      // Mcp-Method / Mcp-Name on a request with no message name what is not there (a router may route on them).
      const mismatch = refuseHeaderMismatch(gate, ctx, view.headers, undefined);
      if (mismatch) return refused(mismatch);
      // GET opens the SSE stream, DELETE ends the session: neither carries a message. One that
      // carries a body is refused, not let through undecided (Envoy would forward the body).
      if (view.bodyBytes === 0 && !view.partial && !(view.declaredBytes !== undefined && view.declaredBytes > 0)) return allowed(caller);
      return refused(gate.transportRefusal(ctx, 400, `HTTP ${view.method} must not carry a body: MCP messages are POSTed`, { code: ErrorCodes.transport }));
    }
    if (view.partial) {
      return refused(gate.transportRefusal(ctx, 413,
        'request body was truncated before authorization (Envoy max_request_bytes); it cannot be checked, so it is refused: set allow_partial_message: false and raise max_request_bytes'));
    }
    const read = gate.read(view.body, ctx);
    if (!read.ok) return refused(read.refusal);
    // Envoy routes on these headers, the gate decides on the body: they must agree (MCP 2026-07-28 Server Validation).
    const mismatch = refuseHeaderMismatch(gate, ctx, view.headers, read.message);
    if (mismatch) return refused(mismatch);
    // Envoy routes to one upstream server per route: the tool name is the server's own. Envoy
    // never shows ext_authz the response, so resources/list and prompts/list pass unfiltered
    // (gate/README.md); deployments that must filter them use the proxy.
    const admitted = await gate.admit(read.message, { ...ctx, caller, naming: { server }, listings: 'unfiltered', ...(signal ? { signal } : {}) });
    const outcome = admitted.kind === 'hold' ? await gate.release(admitted.held, { mode: 'retry' }, ctx) : admitted;
    if (outcome.kind === 'allow') return allowed(caller, outcome);
    if (admitted.kind === 'hold') {
      // A 2026-07-28 client that can show a URL is asked in its protocol's terms (gate/approval-input.ts),
      // without a requestState: Envoy forwards the retry's body as sent, so nothing of toolgate's may need removing.
      const ask = approvalInputFor(outcome.refusal, admitted.held.message, { requestState: false });
      if (ask) return { response: inputRequiredResponse(outcome.refusal, ask), outcome: 'deny', httpStatus: 200 };
    }
    return refused(outcome.refusal);
  }

  return async (req, call = {}) => {
    const started = performance.now();
    const ctx: RefusalContext = { frontEnd: 'ext_authz' };
    let answer: Answer;
    try {
      answer = await check(req, ctx, call.signal);
    } catch (err) {
      if (err instanceof CheckRequestError) {
        answer = refused(gate.transportRefusal(ctx, 400, err.message, { code: ErrorCodes.invalidRequest }), GrpcCode.invalidArgument);
      } else {
        o.log.error({ err }, 'ext_authz Check failed; refusing the request');
        answer = refused(gate.internalError(ctx));
      }
    }
    o.metrics?.check(answer.outcome, answer.httpStatus, (performance.now() - started) / 1000);
    return answer.response;
  };
}

function checkOutcome(r: Refusal): CheckOutcome {
  if (r.stage === 'authentication' && r.httpStatus !== 503 && r.httpStatus !== 500) return 'unauthenticated';
  if (r.httpStatus >= 500 || r.error.code === ErrorCodes.policyUnavailable || r.stage === 'internal') return 'error';
  return 'deny';
}
