export { PolicyEngine, PolicyLoadError, denyDecision, type LoadedBundleInfo, type PolicyWasm } from './engine.ts';
export { checkDecision } from './check.ts';
export * from './types.ts';
