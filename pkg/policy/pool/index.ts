export { PolicyWorkerPool, PolicyWorkerExit, defaultWorkerCount, type PolicyWorkerPoolOptions } from './pool.ts';
