// The decision core both front ends reach through the gate (gate.ts): one tools/call in, one
// verdict out, from the policy engine of the policy governing the call's server. Never throws:
// no policy, an unknown server or a failed evaluation is a deny.
import { toPlainJson, type JsonValue } from '../../../pkg/json/strict.ts';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { RULES, denyDecision, type Evaluated, type PolicyInput, type ToolAnnotations } from '../../../pkg/policy/engine/index.ts';
import { ErrorCodes, type JsonRpcError } from './jsonrpc.ts';
import type { GatewayMetrics } from './metrics.ts';
import { refusedMessageStatus } from './outcome.ts';
import type { ToolPins } from '../pinning/tool-pins.ts';
import type { PolicyRouter } from './policy-router.ts';
import type { CallerIdentity, ToolCall, Verdict } from './types.ts';
import { withSession, type SessionInput } from '../session/session-state.ts';

export interface DecisionRecord {
  verdict: Verdict;
  call: ToolCall;
  durationMs: number;
}

export interface DecisionPathOptions {
  router: PolicyRouter;
  log: Logger;
  metrics?: GatewayMetrics;
  /**
   * Called once per tools/call decision (the audit trail hangs here). A returned AuditWrite
   * promise (the trail's record()) is handed back by decideRecorded, for the gate to await.
   */
  onDecision?: (record: DecisionRecord) => unknown;
  /** Tool pins: listings leave out tools whose definition is not the accepted one, and carry each tool's own labels. */
  pins?: ToolPins;
}

/** Whether a decision's audit record reached the trail. */
export type AuditWrite = { ok: true } | { ok: false; reason: string };

const unavailableRules = new Set<string>([RULES.noPolicy, RULES.noData, RULES.evaluationError, RULES.internalError]);

export class DecisionPath {
  readonly #o: DecisionPathOptions;

  constructor(o: DecisionPathOptions) {
    this.#o = o;
  }

  /** Decides one tools/call. Never throws: any failure is a deny. */
  decide(call: ToolCall, session?: SessionInput): Verdict {
    return this.decideRecorded(call, session).record.verdict;
  }

  /**
   * decide(), with the record handed to onDecision and its audit write, when onDecision answered
   * one. `session` is what the session state says happened before (velocity counts, taint).
   */
  decideRecorded(call: ToolCall, session?: SessionInput): { record: DecisionRecord; audited?: Promise<AuditWrite> } {
    const started = performance.now();
    const route = this.#o.router.route(call.server);
    let evaluated: Evaluated;
    if (!route.ok) {
      evaluated = { decision: denyDecision(route.reason === 'not-loaded' ? RULES.noPolicy : RULES.unknownServer, route.message), revision: '' };
    } else {
      const revision = route.entry.engine.current?.revision ?? '';
      try {
        evaluated = { decision: route.entry.engine.evaluate(withSession(policyInput(call), session)), revision };
      } catch (err) {
        evaluated = { decision: denyDecision(RULES.internalError, `evaluation failed: ${(err as Error).message}`), revision };
      }
    }
    return this.#recorded(call, evaluated, started);
  }

  /**
   * decideRecorded(), with the policy evaluated on a worker thread when the engine has a pool
   * (the gate's path for every call it decides), the verdict naming the revision that decided.
   */
  async decideRecordedAsync(call: ToolCall, session?: SessionInput): Promise<{ record: DecisionRecord; audited?: Promise<AuditWrite> }> {
    const started = performance.now();
    const route = this.#o.router.route(call.server);
    if (!route.ok) return this.decideRecorded(call, session);
    let evaluated: Evaluated;
    try {
      evaluated = await route.entry.engine.evaluateDecision(withSession(policyInput(call), session));
    } catch (err) {
      evaluated = { decision: denyDecision(RULES.internalError, `evaluation failed: ${(err as Error).message}`), revision: route.entry.engine.current?.revision ?? '' };
    }
    return this.#recorded(call, evaluated, started);
  }

  #recorded(call: ToolCall, { decision, revision }: Evaluated, started: number): { record: DecisionRecord; audited?: Promise<AuditWrite> } {
    const effect = decision.action === 'allow' ? 'proceed' : decision.action === 'deny' ? 'deny' : 'hold';
    const verdict: Verdict = { decisionId: randomUUID(), decision, revision, effect };
    const durationMs = performance.now() - started;
    this.#o.metrics?.observe(call.frontEnd, verdict, durationMs / 1000);
    this.#o.log.info({
      decisionId: verdict.decisionId, frontEnd: call.frontEnd, server: call.server,
      ...(call.operation ? { method: call.operation.method, kind: call.operation.kind, target: call.operation.target } : { tool: call.tool }), action: decision.action,
      dryRunAction: decision.dryRunAction, rule: decision.rule, revision, agent: call.caller.agent, operator: call.caller.operator,
      sessionId: call.sessionId,
    }, `${call.operation?.method ?? 'tools/call'} decided`);
    const record: DecisionRecord = { verdict, call, durationMs };
    const audited = this.#o.onDecision?.(record);
    return audited instanceof Promise ? { record, audited: audited as Promise<AuditWrite> } : { record };
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
    this.#o.pins?.sighted(route.entry.gateway, server, tools);
    return tools.filter((t) => {
      // A tool whose listed definition is not the accepted one is never shown, whatever the
      // policy answers for calls to it: the model must not read the unaccepted description.
      const pin = this.#o.pins?.check(route.entry.gateway, server, t);
      if (pin && pin.kind !== 'accepted') return false;
      const d = route.entry.engine.evaluate(policyInput({ server, tool: t.name, arguments: {}, annotations: t.annotations, ...(pin?.labels.length ? { toolLabels: pin.labels } : {}), caller, frontEnd: 'proxy' }));
      if (d.action !== 'deny') return true;
      if (d.rule.startsWith('toolgate:') && d.rule !== RULES.default) return false;
      const candidates = sensitivity?.classifiedTools.get(server)?.get(t.name);
      if (!sensitivity || !candidates) return false;
      const deciding = d.rule === RULES.default ? Number.POSITIVE_INFINITY : sensitivity.rules.findIndex((r) => r.name === d.rule);
      return candidates.some((i) => i <= deciding && sensitivity.rules[i]?.readsLabels === true);
    });
  }

  /**
   * The resources, resource templates or prompts a caller may see in a listing: exactly those
   * a read, get or completion of the same target would be allowed (or dry-run allowed) for, so
   * a listing never shows what a read refuses nor hides what it allows. A template is decided
   * on its uriTemplate string, as completion/complete of that template is; reads of its
   * expansions are decided one URI at a time.
   */
  visibleTargets<T>(server: string, items: readonly T[], caller: CallerIdentity, kind: 'resource' | 'prompt', targetOf: (item: T) => unknown): T[] {
    const route = this.#o.router.route(server);
    if (!route.ok) return [];
    return items.filter((item) => {
      const target = targetOf(item);
      if (typeof target !== 'string' || target === '') return false;
      const d = route.entry.engine.evaluate(policyInput({ server, tool: '', operation: { kind, method: 'list', target }, caller, frontEnd: 'proxy' }));
      return d.action !== 'deny';
    });
  }

  /** The scopes a tool needs, for the insufficient_scope challenge of a call denied for lacking them. */
  requiredScopes(call: ToolCall, verdict: Verdict): string[] | undefined {
    if (verdict.decision.rule !== RULES.missingScope) return undefined;
    const route = this.#o.router.route(call.server);
    if (!route.ok) return undefined;
    const c = route.entry.engine.classify(policyInput(call));
    return c.valid ? c.scopes : undefined;
  }
}

/**
 * The JSON-RPC error a non-proceeding verdict is answered with, and its HTTP status by the
 * convention of outcome.ts (200, or 403 with a challenge for a missing scope).
 */
export function verdictError(verdict: Verdict, requiredScopes?: string[]): { httpStatus: number; error: JsonRpcError; requiredScopes?: string[] } {
  const error = verdictJsonRpcError(verdict, requiredScopes);
  return { httpStatus: refusedMessageStatus(true, error.code), error, ...(requiredScopes && error.code === ErrorCodes.insufficientScope ? { requiredScopes } : {}) };
}

function verdictJsonRpcError(verdict: Verdict, requiredScopes: string[] | undefined): JsonRpcError {
  const d = verdict.decision;
  const data: Record<string, unknown> = { decisionId: verdict.decisionId, rule: d.rule, reasons: d.reasons, revision: verdict.revision };
  // The limit or flow rule behind the answer (what the session read, and when), for the agent.
  if (d.session?.constraint && d.session.constraint.name === d.rule) data.session = d.session.constraint;
  if (verdict.effect === 'hold') {
    Object.assign(data, { approvers: d.approvers, quorum: d.quorum, timeout: d.timeout });
    return { code: ErrorCodes.approvalRequired, message: `approval required by rule "${d.rule}": ask a member of ${d.approvers.join(' or ')} to approve`, data };
  }
  if (unavailableRules.has(d.rule)) return { code: ErrorCodes.policyUnavailable, message: `policy unavailable, call refused: ${d.reasons.join('; ')}`, data };
  if (d.rule === RULES.missingScope) return { code: ErrorCodes.insufficientScope, message: d.reasons.join('; '), data: { ...data, requiredScopes } };
  return { code: ErrorCodes.policyDenied, message: `denied by rule "${d.rule}": ${d.reasons.join('; ')}`, data };
}

export function policyInput(call: ToolCall): PolicyInput {
  const caller = {
    ...(call.caller.agent !== undefined ? { agent: call.caller.agent } : {}),
    ...(call.caller.operator !== undefined ? { operator: call.caller.operator } : {}),
    roles: call.caller.roles,
    scopes: call.caller.scopes,
  };
  const op = call.operation;
  if (op) return { server: call.server, kind: op.kind, ...(op.kind !== 'logging' ? { [op.kind]: op.target ?? '' } : {}), caller };
  return {
    server: call.server,
    tool: call.tool,
    ...(call.arguments !== undefined ? { arguments: policyArguments(call.arguments) } : {}),
    ...(call.annotations ? { annotations: call.annotations } : {}),
    ...(call.toolLabels?.length ? { toolLabels: call.toolLabels } : {}),
    ...(call.toolChange ? { toolChange: call.toolChange } : {}),
    ...(call.purpose !== undefined ? { purposeStated: true } : {}),
    caller: {
      ...(call.caller.agent !== undefined ? { agent: call.caller.agent } : {}),
      ...(call.caller.operator !== undefined ? { operator: call.caller.operator } : {}),
      roles: call.caller.roles,
      scopes: call.caller.scopes,
    },
  };
}

/**
 * The arguments as the policy engine reads them: plain JSON. A number a double holds exactly
 * (1, 1.0, 0.1, 1e2) reaches Rego as that number; any other (1234567890123456789, 1e400,
 * 0.30000000000000001) reaches it as a string of its exact text, so a rule never matches a
 * rounded neighbour of what the upstream will receive (a rule comparing such an argument with a
 * number sees a string and does not match: fail closed for allow rules).
 */
export function policyArguments(args: Record<string, unknown>): Record<string, unknown> {
  return toPlainJson(args as JsonValue, { inexactNumbers: 'string' }) as Record<string, unknown>;
}
