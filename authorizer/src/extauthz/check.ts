// One ext_authz Check: authenticate the caller, parse the JSON-RPC body, ask the shared decision
// path, and translate its answer for Envoy. This file holds no decision logic: which methods
// pass, which tools are allowed and with which HTTP status a refusal is answered all come from
// DecisionPath.gate, so ext_authz and the MCP proxy decide every message identically.
// Fail closed: a request we cannot read, a truncated body or any exception is a denial.
import type { Logger } from 'pino';
import type { ApprovalCoordinator } from '../approvals/coordinator.ts';
import { outcomeError } from '../approvals/outcome.ts';
import { GatewayAuthRefusal } from '../gate/authenticate.ts';
import type { DecisionPath } from '../gate/decision-path.ts';
import { ErrorCodes, JsonRpcParseError, parseJsonRpc, type JsonRpcError } from '../gate/jsonrpc.ts';
import type { GatewayMetrics } from '../gate/metrics.ts';
import type { CallerIdentity } from '../gate/types.ts';
import { AuthenticationError, insufficientScope } from '../identity/errors.ts';
import type { CheckOutcome, ExtAuthzMetrics } from './metrics.ts';
import { CheckRequestError, defaultResourceMetadataUrl, readHttp, serverContextKey, serverHeader, type CheckRequest, type HttpView } from './request.ts';
import { deniedResponse, GrpcCode, okResponse, type CheckResponse, type Denial } from './response.ts';

/** Verifies the caller's bearer token for a governed server; throws AuthenticationError to refuse. */
export type Authenticate = (headers: Readonly<Record<string, string>>, server: string) => Promise<CallerIdentity>;

/**
 * JSON-RPC code of a refusal made before any policy decision because the caller is not
 * authenticated; the HTTP status and WWW-Authenticate say the rest (RFC 6750, RFC 9728).
 */
export const unauthenticatedCode = ErrorCodes.unauthenticated;

export const defaultMaxBodyBytes = 1024 * 1024;

export interface CheckOptions {
  decisionPath: DecisionPath;
  authenticate: Authenticate;
  /** False until the policies are loaded: every Check is then refused as unavailable. */
  ready: () => boolean;
  log: Logger;
  /** Shared decision metrics; used here only for bodies refused before the decision path. */
  gatewayMetrics?: GatewayMetrics;
  metrics?: ExtAuthzMetrics;
  /** Bodies above this are refused (413). Keep it at or below Envoy's max_request_bytes. */
  maxBodyBytes?: number;
  /** Forward the caller's Authorization header upstream. Default false (no token passthrough). */
  passAuthorization?: boolean;
  /**
   * Accept the x-toolgate-server header when the route sets no context extension. Default true;
   * set false where only context_extensions may name the server (plain Envoy, Istio), since a
   * client can send the header itself unless the proxy overwrites it first.
   */
  trustServerHeader?: boolean;
  /** The RFC 9728 metadata URL named in WWW-Authenticate; default derived from the request's host and path. */
  resourceMetadataUrl?: (view: HttpView & { server: string }) => string | undefined;
  /**
   * Held calls (require_approval) in retry mode: denied with the ApprovalRequest's reference, and
   * allowed once, when the identical call comes back after approval. Without it a held call is
   * denied with approvalRequired and no reference.
   */
  approvals?: ApprovalCoordinator;
}

type Outcome = { response: CheckResponse; outcome: CheckOutcome; httpStatus: number };

const refuse = (d: Denial, outcome: CheckOutcome = 'deny'): Outcome => ({ response: deniedResponse(d), outcome, httpStatus: d.httpStatus });
const plain = (httpStatus: number, code: number, message: string, grpcCode?: number): Denial => ({
  httpStatus, id: null, error: { code, message }, ...(grpcCode !== undefined ? { grpcCode } : {}),
});

export function createCheckHandler(o: CheckOptions): (req: CheckRequest) => Promise<CheckResponse> {
  const maxBodyBytes = o.maxBodyBytes ?? defaultMaxBodyBytes;
  const metadataUrl = o.resourceMetadataUrl ?? defaultResourceMetadataUrl;

  async function decide(req: CheckRequest): Promise<Outcome> {
    if (!o.ready()) {
      return refuse(plain(503, ErrorCodes.policyUnavailable, 'policy unavailable, call refused: the authorizer has not loaded its policies yet'), 'error');
    }
    const view = readHttp(req);
    const server = view.serverSource === 'header' && o.trustServerHeader === false ? undefined : view.server;
    if (!server) {
      return refuse(plain(500, ErrorCodes.invalidRequest,
        `no governed MCP server for this route: set context_extensions["${serverContextKey}"] on the Envoy route (or the ${serverHeader} header)`,
        GrpcCode.failedPrecondition));
    }
    let caller: CallerIdentity;
    try {
      caller = await o.authenticate(view.headers, server);
    } catch (err) {
      if (err instanceof GatewayAuthRefusal) return refuse(plain(err.status, err.code, err.message), err.status === 503 ? 'error' : 'deny');
      if (!(err instanceof AuthenticationError)) throw err;
      o.log.info({ server, ...err.toLog(), requestId: view.requestId }, 'ext_authz caller refused');
      const error: JsonRpcError = { code: unauthenticatedCode, message: `authentication failed: ${err.description}`, data: err.toJSON() };
      return refuse({ httpStatus: err.status, id: null, error, wwwAuthenticate: err.wwwAuthenticate(metadataUrl({ ...view, server })) }, 'unauthenticated');
    }
    // The Streamable HTTP transport's GET (SSE stream) and DELETE (end session) carry no message.
    if (view.method === 'GET' || view.method === 'DELETE') return allow(caller, undefined);
    if (view.method !== 'POST') {
      return refuse(plain(405, ErrorCodes.invalidRequest, `HTTP method ${view.method || '(none)'} is not part of MCP Streamable HTTP (POST, GET, DELETE)`));
    }
    if (view.partial) {
      return refuse(plain(413, ErrorCodes.invalidRequest,
        'request body was truncated before authorization (Envoy max_request_bytes); it cannot be checked, so it is refused: set allow_partial_message: false and raise max_request_bytes'));
    }
    if (view.bodyBytes > maxBodyBytes) {
      return refuse(plain(413, ErrorCodes.invalidRequest, `request body is ${view.bodyBytes} bytes, above the ${maxBodyBytes}-byte limit`));
    }
    let message;
    try {
      message = parseJsonRpc(view.body);
    } catch (err) {
      if (!(err instanceof JsonRpcParseError)) throw err;
      o.gatewayMetrics?.refused('(unparsed)', err.code);
      return refuse({ httpStatus: 400, id: err.id, error: { code: err.code, message: err.message } });
    }
    const gated = o.decisionPath.gate(message, {
      caller,
      frontEnd: 'ext_authz',
      ...(view.sessionId ? { sessionId: view.sessionId } : {}),
      // Envoy routes to one upstream server per route: the tool name is the server's own.
      resolveTool: (tool) => ({ server, tool }),
    });
    if (gated.allow) return allow(caller, gated.verdict);
    if (o.approvals && gated.verdict?.effect === 'hold' && gated.call) {
      const outcome = await o.approvals.check(gated.call, gated.verdict);
      if (outcome.kind === 'released') return allow(caller, gated.verdict);
      const { httpStatus, error } = outcomeError(outcome, gated.verdict);
      return refuse({ httpStatus, id: gated.id, error, verdict: gated.verdict }, outcome.kind === 'failed' ? 'error' : 'deny');
    }
    const scopes = gated.requiredScopes;
    return refuse({
      httpStatus: gated.httpStatus,
      id: gated.id,
      error: gated.error,
      ...(gated.verdict ? { verdict: gated.verdict } : {}),
      ...(scopes?.length ? { wwwAuthenticate: insufficientScope(scopes).wwwAuthenticate(metadataUrl({ ...view, server })) } : {}),
    });
  }

  function allow(caller: CallerIdentity, verdict: Parameters<typeof okResponse>[1]): Outcome {
    return { response: okResponse(caller, verdict, { passAuthorization: o.passAuthorization ?? false }), outcome: 'allow', httpStatus: 200 };
  }

  return async (req) => {
    const started = performance.now();
    let result: Outcome;
    try {
      result = await decide(req);
    } catch (err) {
      const readable = err instanceof CheckRequestError;
      if (!readable) o.log.error({ err }, 'ext_authz Check failed; refusing the request');
      result = readable
        ? refuse(plain(400, ErrorCodes.invalidRequest, (err as Error).message, GrpcCode.invalidArgument))
        : refuse(plain(503, ErrorCodes.policyUnavailable, 'authorizer error, call refused; see the authorizer log'), 'error');
    }
    o.metrics?.check(result.outcome, result.httpStatus, (performance.now() - started) / 1000);
    return result.response;
  };
}
