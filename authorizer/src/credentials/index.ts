export { CredentialProvider, type CredentialProviderOptions } from './provider.ts';
export { KubeSecretSource, type KubeSecretSourceOptions } from './kube-secret.ts';
export { VaultSource, type VaultSourceOptions } from './vault.ts';
export { CredentialError, type CredentialErrorReason } from './errors.ts';
export { credentialHeader, checkHeaderValue } from './header.ts';
export { createCredentialMetrics, type CredentialMetrics } from './metrics.ts';
export { credentialRedactPaths, redactCensor } from './redact.ts';
