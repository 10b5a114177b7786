export { PolicyWorkerPool, PolicyWorkerExit, defaultWorkerCount, policyWorkerPoolFor, type PolicyWorkerPoolOptions } from './pool.ts';
export { registerPoolMetrics } from './metrics.ts';
