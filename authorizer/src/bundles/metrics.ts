// Prometheus metrics of the bundle clients, registered once on the registry the authorizer
// exposes on /metrics and shared by every client (one label value per bundle).
import { Counter, Gauge, type Registry } from 'prom-client';

export function createBundleClientMetrics(registry: Registry) {
  const registers = [registry];
  return {
    info: new Gauge({ name: 'toolgate_authorizer_bundle_info', help: 'The bundle revision in force: 1 for the loaded revision of each bundle.', labelNames: ['bundle', 'revision'] as const, registers }),
    loads: new Counter({ name: 'toolgate_authorizer_bundle_loads_total', help: 'Bundle activations by result: success, or why a downloaded bundle was refused (invalid_bundle, signature, engine).', labelNames: ['bundle', 'result'] as const, registers }),
    lastLoad: new Gauge({ name: 'toolgate_authorizer_bundle_last_load_timestamp_seconds', help: 'When the bundle in force was loaded (Unix seconds).', labelNames: ['bundle'] as const, registers }),
    polls: new Counter({ name: 'toolgate_authorizer_bundle_polls_total', help: 'Requests to the bundle service by outcome: the HTTP status, or error when no answer came.', labelNames: ['bundle', 'outcome'] as const, registers }),
  };
}

export type BundleClientMetrics = ReturnType<typeof createBundleClientMetrics>;
