// ext_authz front-end metrics: one counter per Check outcome and the whole Check latency
// (authentication, parsing and decision), beside the shared decision metrics of GatewayMetrics.
import { Counter, Histogram, type Registry } from 'prom-client';

export type CheckOutcome = 'allow' | 'deny' | 'unauthenticated' | 'error';

export interface ExtAuthzMetrics {
  check(outcome: CheckOutcome, httpStatus: number, seconds: number): void;
}

export function createExtAuthzMetrics(registry: Registry): ExtAuthzMetrics {
  const checks = new Counter({
    name: 'toolgate_extauthz_checks_total',
    help: 'ext_authz Check calls by outcome and the HTTP status Envoy was told to answer (a refused request is answered 200 with its JSON-RPC error: the outcome says whether it was allowed).',
    labelNames: ['outcome', 'http_status'] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'toolgate_extauthz_check_duration_seconds',
    help: 'Time to answer one ext_authz Check, authentication included.',
    labelNames: ['outcome'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
    registers: [registry],
  });
  return {
    check(outcome, httpStatus, s) {
      checks.inc({ outcome, http_status: String(httpStatus) });
      seconds.observe({ outcome }, s);
    },
  };
}
