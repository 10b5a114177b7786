// The policy workers' memory on /metrics. Each worker is its own V8 isolate, so the process's
// nodejs_heap_* gauges (main thread only) leave it out; without these a pod's RSS has a share
// nobody can attribute. Read when scraped, labelled by the worker's place in the pool (bounded:
// a replacement takes its predecessor's place).
import { Gauge, type Registry } from 'prom-client';
import type { PolicyWorkerPool } from './pool.ts';

export function registerPoolMetrics(registry: Registry, pool: PolicyWorkerPool): void {
  const figures = [
    ['toolgate_policy_worker_heap_used_bytes', 'V8 heap in use by each policy worker thread.', 'usedBytes'],
    ['toolgate_policy_worker_heap_total_bytes', 'V8 heap committed by each policy worker thread.', 'totalBytes'],
    ['toolgate_policy_worker_external_bytes', 'Memory outside the V8 heap held by each policy worker thread (ArrayBuffers, wasm memory).', 'externalBytes'],
  ] as const;
  // One read of every worker per scrape, shared by the three gauges.
  let scrape: Promise<Awaited<ReturnType<PolicyWorkerPool['heapStatistics']>>> | undefined;
  const read = () => (scrape ??= pool.heapStatistics().finally(() => setImmediate(() => { scrape = undefined; })));
  for (const [name, help, field] of figures) {
    new Gauge({
      name, help, labelNames: ['worker'] as const, registers: [registry],
      async collect() {
        this.reset();
        for (const w of await read()) this.set({ worker: String(w.index) }, w[field]);
      },
    });
  }
}
