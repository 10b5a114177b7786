// The one decision path both front ends share. A front end authenticates the caller, parses
// the body with parseJsonRpc and hands the message here; what comes back says whether the
// message may go upstream and, if not, the HTTP status and JSON-RPC error to answer with.
// Whatever ext_authz decides for a message, the proxy decides identically, because neither
// has any decision logic of its own.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { RULES, type Decision, type PolicyInput, type ToolAnnotations } from '../../../pkg/policy/engine/index.ts';
import { ErrorCodes, type JsonRpcError, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PolicyRouter } from './policy-router.ts';
import type { CallerIdentity, FrontEnd, ToolCall, Verdict } from './types.ts';

/** Methods that pass without a policy decision: session plumbing and discovery. */
export const defaultPassMethods: readonly string[] = ['initialize', 'ping', 'tools/list'];

export interface GateContext {
  caller: CallerIdentity;
  frontEnd: FrontEnd;
  sessionId?: string;
  /**
   * Maps the tools/call `params.name` to the governed server and the upstream tool name. The
   * proxy strips its per-server prefix here; ext_authz knows the server from the route.
   */
  resolveTool(name: string): { server: string; tool: string; annotations?: ToolAnnotations } | { error: string };
}

export type GateResult =
  | { allow: true; method: string; verdict?: Verdict; call?: ToolCall }
  | { allow: false; method: string; id: JsonRpcId; httpStatus: number; error: JsonRpcError; verdict?: Verdict; requiredScopes?: string[]; call?: ToolCall };

export interface DecisionRecord {
  verdict: Verdict;
  call: ToolCall;
  durationMs: number;
}

export interface DecisionPathOptions {
  router: PolicyRouter;
  log: Logger;
  metrics?: GatewayMetrics;
  /** Further request methods let through without a decision (e.g. resources/read). */
  passMethods?: readonly string[];
  /** Called once per tools/call decision (the audit trail hangs here). */
  onDecision?: (record: DecisionRecord) => void;
}

const unavailableRules = new Set<string>([RULES.noPolicy, RULES.noData, RULES.evaluationError, RULES.internalError]);

export class DecisionPath {
  readonly #o: DecisionPathOptions;
  readonly #pass: Set<string>;

  constructor(o: DecisionPathOptions) {
    this.#o = o;
    this.#pass = new Set([...defaultPassMethods, ...(o.passMethods ?? [])]);
  }

  /** Decides whether one client→server message may go upstream. */
  gate(msg: JsonRpcMessage, ctx: GateContext): GateResult {
    if (msg.kind === 'response') return { allow: true, method: '(response)' };
    const method = msg.message.method;
    if (msg.kind === 'notification') {
      if (method.startsWith('notifications/')) return { allow: true, method };
      // A request sent without an id must not slip past the decision as a "notification".
      return this.#refuse(method, null, 400, ErrorCodes.invalidRequest, `"${method}" must be sent as a request with an id; only notifications/* may omit it`);
    }
    const id = msg.message.id;
    if (method === 'tools/call') return this.#gateToolCall(id, msg.message.params ?? {}, ctx);
    if (this.#pass.has(method)) return { allow: true, method };
    return this.#refuse(method, id, 403, ErrorCodes.methodNotFound, `method "${method}" is not allowed through toolgate (allowed: ${[...this.#pass, 'tools/call'].sort().join(', ')})`);
  }

  /** Decides one tools/call. Never throws: any failure is a deny. */
  decide(call: ToolCall): Verdict {
    const started = performance.now();
    let decision: Decision;
    let revision = '';
    const route = this.#o.router.route(call.server);
    if (!route.ok) {
      decision = deny(route.reason === 'not-loaded' ? RULES.noPolicy : RULES.unknownServer, route.message);
    } else {
      revision = route.entry.engine.current?.revision ?? '';
      try {
        decision = route.entry.engine.evaluate(policyInput(call));
      } catch (err) {
        decision = deny(RULES.internalError, `evaluation failed: ${(err as Error).message}`);
      }
    }
    const effect = decision.action === 'allow' ? 'proceed' : decision.action === 'deny' ? 'deny' : 'hold';
    const verdict: Verdict = { decisionId: randomUUID(), decision, revision, effect };
    const durationMs = performance.now() - started;
    this.#o.metrics?.observe(call.frontEnd, verdict, durationMs / 1000);
    this.#o.log.info({
      decisionId: verdict.decisionId, frontEnd: call.frontEnd, server: call.server, tool: call.tool, action: decision.action,
      dryRunAction: decision.dryRunAction, rule: decision.rule, revision, agent: call.caller.agent, operator: call.caller.operator,
      sessionId: call.sessionId,
    }, 'tools/call decided');
    this.#o.onDecision?.({ verdict, call, durationMs });
    return verdict;
  }

  /**
   * The tools a caller may see in tools/list. A tool is hidden only when no arguments could
   * make the call succeed: it is denied for the caller whatever the call (role grant, scope,
   * server), or denied by a rule (or the default) that arguments cannot reach — the tool has
   * no argument classifiers, or no rule evaluated up to the deciding one reads labels.
   */
  visibleTools<T extends { name: string; annotations?: ToolAnnotations }>(server: string, tools: readonly T[], caller: CallerIdentity): T[] {
    const route = this.#o.router.route(server);
    if (!route.ok) return [];
    const sensitivity = route.entry.argumentSensitivity;
    return tools.filter((t) => {
      const d = route.entry.engine.evaluate(policyInput({ server, tool: t.name, arguments: {}, annotations: t.annotations, caller, frontEnd: 'proxy' }));
      if (d.action !== 'deny') return true;
      if (d.rule.startsWith('toolgate:') && d.rule !== RULES.default) return false;
      const candidates = sensitivity?.classifiedTools.get(server)?.get(t.name);
      if (!sensitivity || !candidates) return false;
      const deciding = d.rule === RULES.default ? Number.POSITIVE_INFINITY : sensitivity.rules.findIndex((r) => r.name === d.rule);
      return candidates.some((i) => i <= deciding && sensitivity.rules[i]?.readsLabels === true);
    });
  }

  #gateToolCall(id: JsonRpcId, params: Record<string, unknown>, ctx: GateContext): GateResult {
    const method = 'tools/call';
    if (typeof params.name !== 'string' || params.name === '') return this.#refuse(method, id, 400, ErrorCodes.invalidParams, 'params.name must be a non-empty string (the tool to call)');
    if (params.arguments !== undefined && (typeof params.arguments !== 'object' || params.arguments === null || Array.isArray(params.arguments))) {
      return this.#refuse(method, id, 400, ErrorCodes.invalidParams, 'params.arguments must be an object');
    }
    const resolved = ctx.resolveTool(params.name);
    if ('error' in resolved) return this.#refuse(method, id, 404, ErrorCodes.invalidParams, resolved.error);
    const call: ToolCall = {
      server: resolved.server,
      tool: resolved.tool,
      ...(params.arguments !== undefined ? { arguments: params.arguments as Record<string, unknown> } : {}),
      ...(resolved.annotations ? { annotations: resolved.annotations } : {}),
      caller: ctx.caller,
      ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
      requestId: id,
      frontEnd: ctx.frontEnd,
    };
    const verdict = this.decide(call);
    if (verdict.effect === 'proceed') return { allow: true, method, verdict, call };
    return { allow: false, method, id, verdict, call, ...verdictError(verdict, this.#requiredScopes(call, verdict)) };
  }

  #requiredScopes(call: ToolCall, verdict: Verdict): string[] | undefined {
    if (verdict.decision.rule !== RULES.missingScope) return undefined;
    const route = this.#o.router.route(call.server);
    if (!route.ok) return undefined;
    const c = route.entry.engine.classify(policyInput(call));
    return c.valid ? c.scopes : undefined;
  }

  #refuse(method: string, id: JsonRpcId, httpStatus: number, code: number, message: string): GateResult {
    this.#o.metrics?.refused(method, code);
    return { allow: false, method, id, httpStatus, error: { code, message } };
  }
}

/** The HTTP status and JSON-RPC error a front end answers a non-proceeding verdict with. */
export function verdictError(verdict: Verdict, requiredScopes?: string[]): { httpStatus: number; error: JsonRpcError; requiredScopes?: string[] } {
  const d = verdict.decision;
  const data: Record<string, unknown> = { decisionId: verdict.decisionId, rule: d.rule, reasons: d.reasons, revision: verdict.revision };
  if (verdict.effect === 'hold') {
    Object.assign(data, { approvers: d.approvers, quorum: d.quorum, timeout: d.timeout });
    return { httpStatus: 403, error: { code: ErrorCodes.approvalRequired, message: `approval required by rule "${d.rule}": ask a member of ${d.approvers.join(' or ')} to approve`, data } };
  }
  if (unavailableRules.has(d.rule)) {
    return { httpStatus: 503, error: { code: ErrorCodes.policyUnavailable, message: `policy unavailable, call refused: ${d.reasons.join('; ')}`, data } };
  }
  if (d.rule === RULES.missingScope) {
    return { httpStatus: 403, error: { code: ErrorCodes.insufficientScope, message: d.reasons.join('; '), data: { ...data, requiredScopes } }, ...(requiredScopes ? { requiredScopes } : {}) };
  }
  const status = d.rule === RULES.invalidInput ? 400 : d.rule === RULES.unknownServer ? 404 : 403;
  return { httpStatus: status, error: { code: ErrorCodes.policyDenied, message: `denied by rule "${d.rule}": ${d.reasons.join('; ')}`, data } };
}

export function policyInput(call: ToolCall): PolicyInput {
  return {
    server: call.server,
    tool: call.tool,
    ...(call.arguments !== undefined ? { arguments: call.arguments } : {}),
    ...(call.annotations ? { annotations: call.annotations } : {}),
    caller: {
      ...(call.caller.agent !== undefined ? { agent: call.caller.agent } : {}),
      ...(call.caller.operator !== undefined ? { operator: call.caller.operator } : {}),
      roles: call.caller.roles,
      scopes: call.caller.scopes,
    },
  };
}

function deny(rule: string, reason: string): Decision {
  return { action: 'deny', rule, reasons: [reason], labels: [], annotations: {}, verb: '', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [] };
}
