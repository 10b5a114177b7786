import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutcomeKind } from './outcome.ts';

export interface ApprovalMetrics {
  created: Counter<'policy'>;
  outcomes: Counter<'outcome' | 'mode'>;
  waiting: Gauge;
  conflicts: Counter;
  /** Requests marked Superseded because a new bundle revision requires something else of the call. */
  superseded: Counter;
  /** Held calls refused because the request under their name is not the one toolgate creates for them. */
  untrusted: Counter;
  /** Times a request marked Approved was not released because its decisions do not back the phase. */
  unbacked: Counter;
  /** Full arguments stored for approvers: stored, skipped (too large) or failed. */
  argumentsStored: Counter<'outcome'>;
  /** From the watch event that showed the request Approved to the call being released (consumed). */
  releaseSeconds: Histogram;
  outcome(kind: OutcomeKind, mode: 'hold' | 'retry'): void;
}

export function createApprovalMetrics(registry: Registry): ApprovalMetrics {
  const registers = [registry];
  const m = {
    created: new Counter({ name: 'toolgate_approval_requests_created_total', help: 'ApprovalRequests created for held tool calls.', labelNames: ['policy'] as const, registers }),
    outcomes: new Counter({ name: 'toolgate_approval_outcomes_total', help: 'Held tool calls by outcome (released, pending, denied, expired, alreadyReleased, superseded, untrusted, failed) and front-end mode.', labelNames: ['outcome', 'mode'] as const, registers }),
    waiting: new Gauge({ name: 'toolgate_approval_waiting_calls', help: 'Tool calls held open waiting for a human decision.', registers }),
    conflicts: new Counter({ name: 'toolgate_approval_consume_conflicts_total', help: 'Optimistic-concurrency conflicts while marking an approval consumed.', registers }),
    superseded: new Counter({ name: 'toolgate_approval_requests_superseded_total', help: 'ApprovalRequests marked Superseded because the policy in force requires something else of the call.', registers }),
    untrusted: new Counter({ name: 'toolgate_approval_requests_untrusted_total', help: 'Held calls refused because the ApprovalRequest under their name is not the one toolgate creates for them (pre-created or edited).', registers }),
    unbacked: new Counter({ name: 'toolgate_approval_unbacked_approvals_total', help: 'Times an ApprovalRequest marked Approved was not released because its recorded decisions do not back the phase.', registers }),
    argumentsStored: new Counter({ name: 'toolgate_approval_arguments_stored_total', help: 'Full arguments stored for approvers (ApprovalArguments + Role + RoleBinding), by outcome (stored, skipped when too large, failed).', labelNames: ['outcome'] as const, registers }),
    releaseSeconds: new Histogram({
      name: 'toolgate_approval_release_seconds', help: 'Time from seeing an ApprovalRequest approved to releasing the held call.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    }),
  };
  return { ...m, outcome: (kind, mode) => m.outcomes.inc({ outcome: kind, mode }) };
}
