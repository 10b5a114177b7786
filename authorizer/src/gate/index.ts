// The authorizer's shared core: the one gate both front ends pass every request through, and
// what it is built from (types, JSON-RPC parsing, the decision path, caller authentication).
export * from './types.ts';
export * from './jsonrpc.ts';
export * from './outcome.ts';
export * from './catalog.ts';
export * from './tool-names.ts';
export { Gate, defaultMaxBodyBytes, defaultPassMethods, type AdmitContext, type AuditOnFailure, type Authenticated, type GateOptions, type ReadMessage, type ReleaseMode } from './gate.ts';
export { DecisionPath, policyInput, verdictError, type DecisionPathOptions, type DecisionRecord } from './decision-path.ts';
export { PolicyRouter, type PolicyEntry, type Route } from './policy-router.ts';
export { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
export {
  GatewayAuthRefusal, PolicyVerifiers, metadataUrlOf, policyAuthenticator, verifierFor, type Authenticate, type AuthenticationRequest, type VerifierLookup,
} from './authenticate.ts';
