export { PolicyEngine, PolicyLoadError, denyDecision, type Evaluated, type LoadedBundleInfo, type PolicyEngineOptions, type PolicyWasm } from './engine.ts';
export { checkDecision } from './check.ts';
export * from './types.ts';
