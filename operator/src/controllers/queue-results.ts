// What every controller does with its work queue's results: the controller-runtime style
// metrics, and a log line for each retry and each key given up on.
import type { Logger } from 'pino';
import type { WorkQueueEvent } from '../../../pkg/kube/workqueue.ts';
import { errorMessage } from '../../../pkg/observability/log.ts';
import type { OperatorMetrics } from '../../../pkg/observability/metrics.ts';

export function queueResultReporter(controller: string, metrics: OperatorMetrics, log: Logger, depth: () => number): (e: WorkQueueEvent) => void {
  return (e) => {
    metrics.workqueueDepth.set({ controller }, depth());
    if (e.type === 'done') {
      metrics.reconcileTotal.inc({ controller, result: 'success' });
      metrics.reconcileSeconds.observe({ controller }, e.durationMs / 1000);
    } else if (e.type === 'retry') {
      metrics.reconcileTotal.inc({ controller, result: 'error' });
      metrics.workqueueRetries.inc({ controller });
      log.warn({ key: e.key, attempt: e.attempt, retryInMs: e.delayMs, err: errorMessage(e.error) }, 'reconcile failed');
    } else {
      metrics.workqueueDropped.inc({ controller });
      log.error({ key: e.key, attempts: e.attempts, err: errorMessage(e.error) }, 'reconcile gave up');
    }
  };
}
