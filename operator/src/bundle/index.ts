// The bundle side of the operator: build, sign and serve OPA bundles (and open them, for the
// authorizer). See bundle.ts, sign.ts, server.ts for the formats and protocols involved.
export { buildBundle, bundleRevision, openBundle, readBundleFiles, BundleError, defaultMaxBundleBytes, type BuildBundleInput, type BuiltBundle, type BundleInputs, type BundleManifest, type OpenedBundle } from '../../../pkg/bundle/bundle.ts';
export { bundleFileHash, signBundleFiles, verifyBundleSignature, BundleSignatureError, type BundleFile, type BundleSigner, type SigningAlgorithm, type VerificationKey, type VerifyOptions, type VerifiedSignature } from '../../../pkg/bundle/sign.ts';
export { loadOrCreateSigningKey, signerFor, defaultSigningKeyId, defaultSigningSecretName, type SigningKeyMaterial, type SigningKeyOptions } from './signing-key.ts';
export { BundleStore, type StoredBundle } from './store.ts';
export { createBundleHandler, startBundleServer, type BundleHandler, type BundleHandlerOptions, type BundleServer, type BundleServerOptions } from './server.ts';
export { loadTlsPair, TlsConfigError, type BundleTls } from './tls.ts';
export { tokenReviewAuthenticator, AuthenticationUnavailableError, type Authenticator, type Caller, type TokenReviewOptions } from './token-review.ts';
export { createBundleMetrics, type BundleMetrics } from './metrics.ts';
export { bundleContentType, longPollContentType } from '../../../pkg/bundle/protocol.ts';
