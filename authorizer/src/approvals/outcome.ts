// What became of a held call, and the JSON-RPC error each non-release outcome is answered with.
// Both front ends answer from here, so a client sees the same codes and wording from the MCP
// proxy and from Envoy.
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { verdictError } from '../gate/decision-path.ts';
import { ErrorCodes, type JsonRpcError } from '../gate/jsonrpc.ts';
import type { Verdict } from '../gate/types.ts';

export type Outcome =
  /** Approved and consumed by this replica: the call may go upstream, once. */
  | { kind: 'released'; request: ApprovalRequest }
  /** Still waiting for humans (retry mode answers this at once). */
  | { kind: 'pending'; request: ApprovalRequest }
  | { kind: 'denied'; request: ApprovalRequest }
  | { kind: 'expired'; request: ApprovalRequest }
  /** Consumed elsewhere (another replica, an earlier identical call) or removed while waited on. */
  | { kind: 'alreadyReleased'; request: ApprovalRequest; consumedBy?: string }
  /** The API server could not be asked: fail closed. */
  | { kind: 'failed'; message: string; request?: ApprovalRequest }
  /**
   * The policy changed what the call requires while it waited; the request no longer answers for
   * it. `verdict` is the decision under the policy in force (when it still holds the call, hold
   * mode waits on a new request instead of ending here).
   */
  | { kind: 'superseded'; message: string; request: ApprovalRequest; verdict?: Verdict }
  /** A request under this call's name that toolgate did not create for it (or whose phase its decisions do not back): never honoured. */
  | { kind: 'untrusted'; message: string; request: ApprovalRequest };

export type OutcomeKind = Outcome['kind'];

export function approvalRef(r: ApprovalRequest): { namespace: string; name: string } {
  return { namespace: r.metadata.namespace ?? '', name: r.metadata.name ?? '' };
}

export function approveCommand(r: ApprovalRequest): string {
  const { namespace, name } = approvalRef(r);
  return `kubectl mcp approve ${name} -n ${namespace}`;
}

/** The JSON-RPC error a non-released outcome is answered with (the gate picks the HTTP status, the same for both front ends). */
export function outcomeError(outcome: Exclude<Outcome, { kind: 'released' }>, verdict: Verdict): { error: JsonRpcError } {
  const base = verdictError(verdict);
  const baseData = (base.error.data ?? {}) as Record<string, unknown>;
  if (outcome.kind === 'failed') {
    return {
      error: { code: ErrorCodes.policyUnavailable, message: `approval unavailable, call refused: ${outcome.message}`, data: { ...baseData, ...(outcome.request ? { approval: approvalRef(outcome.request) } : {}) } },
    };
  }
  const r = outcome.request;
  const data = { ...baseData, approval: approvalRef(r), phase: r.status?.phase ?? 'Pending', expiresAt: r.spec.expiresAt };
  switch (outcome.kind) {
    case 'superseded': {
      if (outcome.verdict?.effect === 'deny') {
        const fresh = verdictError(outcome.verdict);
        return { error: { ...fresh.error, message: `${fresh.error.message} (the policy changed while the call waited for approval: ${outcome.message})` } };
      }
      return {
        error: {
          code: ErrorCodes.approvalRequired,
          message: `not executed: approval request ${data.approval.namespace}/${data.approval.name} was superseded (${outcome.message}); retry the call to have it decided under the policy in force`,
          data: { ...data, phase: 'Superseded', ...(outcome.verdict ? { revision: outcome.verdict.revision, rule: outcome.verdict.decision.rule } : {}) },
        },
      };
    }
    case 'untrusted':
      return {
        error: {
          code: ErrorCodes.approvalDenied,
          message: `not executed: approval request ${data.approval.namespace}/${data.approval.name} cannot be trusted (${outcome.message}); an administrator must look into it`,
          data: { ...data, untrusted: true },
        },
      };
    case 'pending':
      return {
        error: {
          code: ErrorCodes.approvalRequired,
          message: `${base.error.message}; approval request ${data.approval.namespace}/${data.approval.name} is pending until ${r.spec.expiresAt}: approve with "${approveCommand(r)}", then retry the identical call`,
          data: { ...data, approve: approveCommand(r) },
        },
      };
    case 'denied': {
      const denials = (r.status?.decisions ?? []).filter((d) => d.decision === 'deny');
      const who = denials.map((d) => `${d.user}${d.reason ? ` ("${d.reason}")` : ''}`).join(', ') || 'an approver';
      return {
        error: { code: ErrorCodes.approvalDenied, message: `call denied by ${who} (approval request ${data.approval.namespace}/${data.approval.name}, rule "${r.spec.rule}")`, data: { ...data, deniedBy: denials.map((d) => ({ user: d.user, reason: d.reason ?? '', time: d.time })) } },
      };
    }
    case 'expired':
      return {
        error: { code: ErrorCodes.approvalExpired, message: `call aborted: approval request ${data.approval.namespace}/${data.approval.name} expired unapproved at ${r.spec.expiresAt} (rule "${r.spec.rule}")`, data },
      };
    case 'alreadyReleased':
      return {
        error: {
          code: ErrorCodes.alreadyReleased,
          message: `not executed: the approval ${data.approval.namespace}/${data.approval.name} was already released elsewhere${outcome.consumedBy ? ` (by ${outcome.consumedBy})` : ''}; an approval releases one call`,
          data: { ...data, ...(outcome.consumedBy ? { consumedBy: outcome.consumedBy } : {}) },
        },
      };
  }
}
