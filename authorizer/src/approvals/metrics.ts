import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutcomeKind } from './outcome.ts';

export interface ApprovalMetrics {
  created: Counter<'policy'>;
  outcomes: Counter<'outcome' | 'mode'>;
  waiting: Gauge;
  conflicts: Counter;
  /** From the watch event that showed the request Approved to the call being released (consumed). */
  releaseSeconds: Histogram;
  outcome(kind: OutcomeKind, mode: 'hold' | 'retry'): void;
}

export function createApprovalMetrics(registry: Registry): ApprovalMetrics {
  const registers = [registry];
  const m = {
    created: new Counter({ name: 'toolgate_approval_requests_created_total', help: 'ApprovalRequests created for held tool calls.', labelNames: ['policy'] as const, registers }),
    outcomes: new Counter({ name: 'toolgate_approval_outcomes_total', help: 'Held tool calls by outcome (released, pending, denied, expired, alreadyReleased, failed) and front-end mode.', labelNames: ['outcome', 'mode'] as const, registers }),
    waiting: new Gauge({ name: 'toolgate_approval_waiting_calls', help: 'Tool calls held open waiting for a human decision.', registers }),
    conflicts: new Counter({ name: 'toolgate_approval_consume_conflicts_total', help: 'Optimistic-concurrency conflicts while marking an approval consumed.', registers }),
    releaseSeconds: new Histogram({
      name: 'toolgate_approval_release_seconds', help: 'Time from seeing an ApprovalRequest approved to releasing the held call.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    }),
  };
  return { ...m, outcome: (kind, mode) => m.outcomes.inc({ outcome: kind, mode }) };
}
