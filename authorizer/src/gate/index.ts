// The authorizer's shared core: types, JSON-RPC parsing and the one decision path.
export * from './types.ts';
export * from './jsonrpc.ts';
export { DecisionPath, defaultPassMethods, policyInput, verdictError, type DecisionPathOptions, type DecisionRecord, type GateContext, type GateResult } from './decision-path.ts';
export { PolicyRouter, type PolicyEntry, type Route } from './policy-router.ts';
export { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
export { GatewayAuthRefusal, PolicyVerifiers, metadataUrlOf, proxyAuthenticator, type VerifierLookup } from './authenticate.ts';
