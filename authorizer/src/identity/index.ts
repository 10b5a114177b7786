// Caller identity for the authorizer's front ends: verify bearer JWTs, explain refusals in
// RFC 6750 / RFC 9728 terms, and publish protected-resource metadata.
export { createTokenVerifier, safeAlgorithms, defaultClockSkew } from './verifier.ts';
export type { TokenVerifier, TokenVerifierOptions, VerifyContext } from './verifier.ts';
export { AuthenticationError, authnReasons, insufficientScope, missingScopes } from './errors.ts';
export type { AuthnReason, OAuthError } from './errors.ts';
export { protectedResourceMetadata, protectedResourceMetadataHandler, protectedResourceMetadataUrl, wellKnownPrefix } from './metadata.ts';
export type { ProtectedResourceMetadata, ProtectedResourceMetadataInput } from './metadata.ts';
export { createAuthnMetrics } from './metrics.ts';
export type { AuthnMetrics } from './metrics.ts';
export { claimAt, scopesOf, agentOf, operatorOf, rolesFor, toCallerIdentity } from './claims.ts';
export { discoveryUrls, KeySourceError } from './keys.ts';
export type { FetchLike } from './keys.ts';
