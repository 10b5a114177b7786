// Metrics of the gate, labelled so a dashboard can split by front end and outcome without a
// label per rule name (rules are user-defined and unbounded) or per client-chosen string.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { RefusalStage } from './outcome.ts';
import type { FrontEnd, Verdict } from './types.ts';

export interface GatewayMetrics {
  observe(frontEnd: FrontEnd, verdict: Verdict, seconds: number): void;
  /** Every refusal, whatever refused it. */
  refused(frontEnd: FrontEnd, stage: RefusalStage, method: string | undefined, httpStatus: number, code: number): void;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const decisions = new Counter({
    name: 'toolgate_authorizer_decisions_total',
    help: 'tools/call decisions by front end, action, dry-run action and policy.',
    labelNames: ['front_end', 'action', 'dry_run_action', 'policy'] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'toolgate_authorizer_decision_duration_seconds',
    help: 'Time to decide one tools/call.',
    labelNames: ['front_end'] as const,
    buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05],
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'toolgate_authorizer_refusals_total',
    help: 'Requests and messages refused, by front end, pipeline stage, HTTP status and JSON-RPC code (policy decisions included).',
    labelNames: ['front_end', 'stage', 'http_status', 'code'] as const,
    registers: [registry],
  });
  const undecided = new Counter({
    name: 'toolgate_authorizer_refused_messages_total',
    help: 'Messages refused before any policy decision (malformed, or a method not let through).',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  // Methods are client-chosen strings: only well-known ones become label values.
  const knownMethod = (m: string) => (/^(tools|resources|prompts|completion|logging|sampling|elicitation|roots|tasks|notifications)\/[a-zA-Z_/]{1,40}$|^(initialize|ping)$/.test(m) ? m : 'other');
  return {
    observe(frontEnd, verdict, s) {
      const p = verdict.decision.policy;
      decisions.inc({
        front_end: frontEnd,
        action: verdict.decision.action,
        dry_run_action: verdict.decision.dryRunAction ?? '',
        policy: p?.namespace && p.name ? `${p.namespace}/${p.name}` : '',
      });
      seconds.observe({ front_end: frontEnd }, s);
    },
    refused(frontEnd, stage, method, httpStatus, code) {
      refusals.inc({ front_end: frontEnd, stage, http_status: String(httpStatus), code: String(code) });
      if (stage === 'parse' || stage === 'message') undecided.inc({ method: method === undefined ? '(unparsed)' : knownMethod(method), code: String(code) });
    },
  };
}
