// Prometheus metrics of the operator. The names follow controller-runtime's where one exists,
// so existing dashboards and alerts for Kubernetes controllers apply unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createOperatorMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconcileTotal: new Counter({ name: 'toolgate_reconcile_total', help: 'Reconciliations by controller and result.', labelNames: ['controller', 'result'] as const, registers: [registry] }),
    reconcileSeconds: new Histogram({ name: 'toolgate_reconcile_duration_seconds', help: 'Time per reconciliation.', labelNames: ['controller'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    workqueueDepth: new Gauge({ name: 'toolgate_workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['controller'] as const, registers: [registry] }),
    workqueueRetries: new Counter({ name: 'toolgate_workqueue_retries_total', help: 'Retries scheduled after a failed reconciliation.', labelNames: ['controller'] as const, registers: [registry] }),
    workqueueDropped: new Counter({ name: 'toolgate_workqueue_dropped_total', help: 'Keys dropped after exhausting retries.', labelNames: ['controller'] as const, registers: [registry] }),
    watchEvents: new Counter({ name: 'toolgate_watch_events_total', help: 'Watch events received by resource and type.', labelNames: ['resource', 'event'] as const, registers: [registry] }),
    watchRestarts: new Counter({ name: 'toolgate_watch_restarts_total', help: 'Informer restarts after a watch or list error.', labelNames: ['resource'] as const, registers: [registry] }),
    statusWrites: new Counter({ name: 'toolgate_status_writes_total', help: 'Status writes by kind and outcome (written, skipped when unchanged, failed).', labelNames: ['kind', 'outcome'] as const, registers: [registry] }),
    leader: new Gauge({ name: 'toolgate_leader', help: '1 while this replica holds the leader lease.', registers: [registry] }),
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
