// The phase of an ApprovalRequest as a pure function of its spec, its recorded decisions and
// the time. The admission policy already refuses forged, duplicate and late decisions; this
// computation does not rely on that: it counts only decisions it can attribute to an eligible
// person, and it believes a stored phase only where the decisions and the clock back it, so a
// phase written by someone else (say, with the admission binding deleted) approves nothing.
import type { ApprovalRequest, ApprovalRequestStatus, Condition, Decision, Phase } from '../../api/v1alpha1/index.ts';
import { getCondition, setCondition } from '../kube/conditions.ts';

export const decidedCondition = 'Decided';
/** Set by the authorizer with the phase Superseded: what the policy requires now, and what changed. */
export const supersededCondition = 'Superseded';
const terminal: ReadonlySet<Phase> = new Set(['Approved', 'Denied', 'Expired', 'Consumed', 'Superseded']);
/** Phases only the authorizer writes: the call ran (Consumed) or is decided afresh (Superseded). */
const authorizerPhases: ReadonlySet<Phase> = new Set(['Consumed', 'Superseded']);

export function isTerminal(phase: Phase | undefined): boolean {
  return phase !== undefined && terminal.has(phase);
}

/** How far apart the clocks of operator replicas may be when one reads a request another expired. */
export const expiryClockSkewMs = 5 * 60_000;

export interface Ignored {
  user: string;
  why: string;
}

export interface ApprovalOutcome {
  phase: Phase;
  /** Distinct eligible people whose approval counts, in decision order. */
  approvedBy: string[];
  /** Eligible denials, in decision order. */
  denials: Decision[];
  ignored: Ignored[];
  /** Epoch ms of spec.expiresAt (NaN when unparsable, which counts as expired). */
  expiresAtMs: number;
}

/**
 * Who may not decide: the agent, the human operator on whose behalf it asked, and the Kubernetes
 * usernames the API server knows them by (`oidc:alice` is alice).
 */
export function requesters(ar: ApprovalRequest): Set<string> {
  const r = ar.spec.requester;
  return new Set([r.agent, ...(r.operator ? [r.operator] : []), ...(r.kubernetesUsernames ?? [])]);
}

export function evaluateApproval(ar: ApprovalRequest, nowMs: number): ApprovalOutcome {
  const approvers = new Set(ar.spec.approvers);
  const asked = requesters(ar);
  const approvedBy: string[] = [];
  const denials: Decision[] = [];
  const ignored: Ignored[] = [];
  for (const d of ar.status?.decisions ?? []) {
    if (asked.has(d.user)) {
      ignored.push({ user: d.user, why: 'requester' });
      continue;
    }
    if (!(d.groups ?? []).some((g) => approvers.has(g))) {
      ignored.push({ user: d.user, why: `not recorded as a member of ${ar.spec.approvers.join(', ')}` });
      continue;
    }
    if (d.decision === 'deny') denials.push(d);
    else if (!approvedBy.includes(d.user)) approvedBy.push(d.user);
  }
  const expiresAtMs = Date.parse(ar.spec.expiresAt);
  const expired = !(nowMs < expiresAtMs); // timeout-to-abort; NaN fails closed
  const approvable = denials.length === 0 && approvedBy.length >= ar.spec.quorum;
  const stored = ar.status?.phase;
  let phase: Phase;
  if (stored && authorizerPhases.has(stored)) phase = stored;
  // A decided phase is final only while the decisions still back it: an Approved nobody
  // approved, or a Denied nobody denied, is derived again like any open request.
  else if (stored === 'Approved' && approvable) phase = 'Approved';
  else if (stored === 'Denied' && denials.length > 0) phase = 'Denied';
  // A replica whose clock runs behind the one that expired the request must not reopen it.
  else if (stored === 'Expired' && !(nowMs < expiresAtMs - expiryClockSkewMs)) phase = 'Expired';
  else if (expired) phase = 'Expired';
  else if (denials.length > 0) phase = 'Denied';
  else if (approvable) phase = 'Approved';
  else phase = 'Pending';
  return { phase, approvedBy, denials, ignored, expiresAtMs };
}

const maxMessage = 1024;

function list(users: readonly string[]): string {
  return users.length ? users.join(', ') : 'nobody';
}

/** The Decided condition's reason and a message that names who decided. */
export function describeOutcome(ar: ApprovalRequest, o: ApprovalOutcome): { status: Condition['status']; reason: string; message: string } {
  const { quorum, approvers, expiresAt } = ar.spec;
  const groups = approvers.join(', ');
  const tally = `${o.approvedBy.length} of ${quorum} approval${quorum === 1 ? '' : 's'}`;
  let reason: string;
  let message: string;
  switch (o.phase) {
    case 'Pending': {
      const missing = quorum - o.approvedBy.length;
      reason = 'AwaitingApproval';
      message = `waiting for ${missing} more approval${missing === 1 ? '' : 's'} from a member of ${groups} until ${expiresAt}`
        + (o.approvedBy.length ? ` (approved so far by ${list(o.approvedBy)})` : '');
      break;
    }
    case 'Approved':
      reason = 'Approved';
      message = `approved by ${list(o.approvedBy)} (quorum ${quorum})`;
      break;
    case 'Denied': {
      reason = 'Denied';
      const by = o.denials.map((d) => (d.reason ? `${d.user} (${d.reason})` : d.user));
      message = `denied by ${list(by)}`;
      break;
    }
    case 'Expired':
      reason = 'Expired';
      message = `expired at ${expiresAt} with ${tally}${o.approvedBy.length ? ` (${list(o.approvedBy)})` : ''}; the call was aborted`;
      break;
    case 'Consumed': {
      reason = 'Consumed';
      const s = ar.status;
      message = `approved by ${list(o.approvedBy)}; released by ${s?.consumedBy ?? 'the authorizer'}${s?.consumedAt ? ` at ${s.consumedAt}` : ''}`;
      break;
    }
    case 'Superseded':
      reason = 'Superseded';
      message = getCondition(ar.status?.conditions, supersededCondition)?.message
        ?? 'superseded: the policy no longer requires this approval; the call is decided afresh';
      break;
  }
  if (o.ignored.length) message += `; ignored: ${o.ignored.map((i) => `${i.user} (${i.why})`).join(', ')}`;
  if (message.length > maxMessage) message = `${message.slice(0, maxMessage - 1)}…`;
  return { status: o.phase === 'Pending' ? 'False' : 'True', reason, message };
}

/** The fields the operator owns (server-side apply), or undefined fields it must leave alone. */
export interface OperatorStatus {
  phase?: Phase;
  observedGeneration: number;
  conditions: Condition[];
}

export function desiredApprovalStatus(ar: ApprovalRequest, nowMs: number): { status: OperatorStatus; outcome: ApprovalOutcome } {
  const outcome = evaluateApproval(ar, nowMs);
  const generation = ar.metadata.generation ?? 0;
  const c = describeOutcome(ar, outcome);
  const conditions = setCondition(ar.status?.conditions, { type: decidedCondition, ...c, observedGeneration: generation }, new Date(nowMs));
  // Consumed and Superseded are the authorizer's to set; stating them would make the operator co-own the field.
  const status: OperatorStatus = { observedGeneration: generation, conditions };
  if (!authorizerPhases.has(outcome.phase)) status.phase = outcome.phase;
  return { status, outcome };
}

/** Whether the operator-owned fields already hold what it would write. */
export function operatorStatusCurrent(current: ApprovalRequestStatus | undefined, desired: OperatorStatus, equal: (a: unknown, b: unknown) => boolean): boolean {
  if (desired.phase !== undefined && current?.phase !== desired.phase) return false;
  return current?.observedGeneration === desired.observedGeneration && equal(current?.conditions ?? [], desired.conditions);
}

/**
 * When a terminal request stops being useful: its decision time (the Decided condition's
 * transition, or consumption), and for Approved no earlier than expiry, since the authorizer
 * may still release the call until then. Undefined while it is not terminal.
 */
export function settledAt(ar: ApprovalRequest): number | undefined {
  const phase = ar.status?.phase;
  if (!isTerminal(phase)) return undefined;
  const decided = getCondition(ar.status?.conditions, decidedCondition);
  const times = [
    decided?.status === 'True' ? Date.parse(decided.lastTransitionTime) : NaN,
    ar.status?.consumedAt ? Date.parse(ar.status.consumedAt) : NaN,
    phase === 'Approved' || phase === 'Expired' ? Date.parse(ar.spec.expiresAt) : NaN,
  ].filter((t) => Number.isFinite(t));
  if (times.length === 0) {
    const created = Date.parse(ar.metadata.creationTimestamp ?? '');
    return Number.isFinite(created) ? created : 0;
  }
  return Math.max(...times);
}
