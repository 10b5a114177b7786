// Prometheus metrics of the bundle service, registered on the registry the caller injects
// (the operator's, so they appear on its /metrics next to the controller metrics).
import { Counter, Gauge, type Registry } from 'prom-client';

export function createBundleMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'toolgate_bundle_requests_total', help: 'Bundle service responses by HTTP status code.', labelNames: ['code'] as const, registers }),
    longPolls: new Counter({ name: 'toolgate_bundle_long_polls_total', help: 'Long-poll waits by outcome: changed (a new revision was sent), timeout (304 after the wait), aborted (client left), drained (server shutting down).', labelNames: ['outcome'] as const, registers }),
    longPollsWaiting: new Gauge({ name: 'toolgate_bundle_long_polls_waiting', help: 'Long-poll requests currently held open.', registers }),
    bundleBytes: new Gauge({ name: 'toolgate_bundle_bytes', help: 'Size of the latest archive of each bundle.', labelNames: ['bundle'] as const, registers }),
    servedBytes: new Counter({ name: 'toolgate_bundle_served_bytes_total', help: 'Bundle archive bytes sent to clients.', registers }),
    tokenReviews: new Counter({ name: 'toolgate_bundle_token_reviews_total', help: 'Caller token checks by result: authenticated, rejected, error, cached.', labelNames: ['result'] as const, registers }),
  };
}

export type BundleMetrics = ReturnType<typeof createBundleMetrics>;
