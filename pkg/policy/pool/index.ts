export { PolicyWorkerPool, PolicyWorkerExit, defaultWorkerCount, type PolicyWorkerPoolOptions } from './pool.ts';
export { registerPoolMetrics } from './metrics.ts';
