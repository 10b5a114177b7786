// The operator's configuration from the environment (documented in config/manager/README.md).
// Every configuration error names the variable at fault and what it expects.
// cmd/operator/main.ts wires it to startOperator.
import { fileURLToPath } from 'node:url';
import { bool, ConfigError, fileBytes, int, list, optional } from '../../pkg/env/env.ts';
import type { Logger } from '../../pkg/observability/log.ts';
import { loadTlsPair, TlsConfigError, type BundleTls } from './bundle/index.ts';
import type { OperatorConfig } from './operator.ts';

export function configFromEnv(log: Logger): OperatorConfig {
  const tls = bundleTls(log);
  const allow = list('BUNDLE_ALLOWED_SERVICE_ACCOUNTS');
  const audiences = list('BUNDLE_TOKEN_AUDIENCES');
  const namespace = process.env.POD_NAMESPACE ?? process.env.TOOLGATE_NAMESPACE ?? 'toolgate-system';
  // The webhook URL is a credential: prefer a Secret (APPROVAL_WEBHOOK_SECRET, key `url` unless
  // APPROVAL_WEBHOOK_SECRET_KEY says otherwise, read at send time) over a plain env value.
  const webhookSecret = optional('APPROVAL_WEBHOOK_SECRET');
  const webhookUrl = optional('APPROVAL_WEBHOOK_URL');
  const approvalNamespaces = list('APPROVAL_NAMESPACES');
  const watchNamespace = optional('WATCH_NAMESPACE');
  const authorizerNamespace = optional('AUTHORIZER_NAMESPACE');
  // Approve from Slack: both names or neither (a signing secret without an identity map decides nothing).
  const chatSecret = optional('CHAT_SLACK_SECRET');
  const chatIdentities = optional('CHAT_IDENTITIES_CONFIGMAP');
  if (Boolean(chatSecret) !== Boolean(chatIdentities)) throw new ConfigError('CHAT_SLACK_SECRET and CHAT_IDENTITIES_CONFIGMAP must be set together');
  const chat = chatSecret && chatIdentities
    ? { chat: { slackSecret: { namespace, name: chatSecret }, identities: { namespace, name: chatIdentities }, port: int('CHAT_PORT', 8090), host: optional('CHAT_HOST') ?? '0.0.0.0' } }
    : {};
  return {
    leaseNamespace: namespace,
    ...(watchNamespace ? { watchNamespace } : {}),
    ...(authorizerNamespace ? { authorizerNamespace } : {}),
    identity: process.env.POD_NAME,
    probePort: int('PROBE_PORT', 8081),
    bundles: {
      policyWasm: fileBytes('POLICY_WASM_FILE', fileURLToPath(new URL('../../build/policy/policy.wasm', import.meta.url)))!,
      port: int('BUNDLE_PORT', 8443),
      ...(tls ? { tls } : {}),
      ...(allow.length ? { allow } : {}),
      ...(audiences.length ? { audiences } : {}),
    },
    approvals: {
      retentionMs: int('APPROVAL_RETENTION_SECONDS', 24 * 3600) * 1000,
      ...(approvalNamespaces.length ? { namespaces: approvalNamespaces } : {}),
      ...(webhookSecret ? { webhook: { secret: { namespace, name: webhookSecret, key: optional('APPROVAL_WEBHOOK_SECRET_KEY') ?? 'url' } } }
        : webhookUrl ? { webhook: { url: webhookUrl } } : {}),
      ...chat,
    },
    log,
  };
}

/**
 * Authorizers send their service-account tokens to the bundle service, so it serves TLS unless
 * plain HTTP is asked for by name (loopback development only).
 */
function bundleTls(log: Logger): BundleTls | undefined {
  const certFile = optional('BUNDLE_TLS_CERT_FILE');
  const keyFile = optional('BUNDLE_TLS_KEY_FILE');
  const insecure = bool('BUNDLE_ALLOW_INSECURE_HTTP', false);
  if (Boolean(certFile) !== Boolean(keyFile)) throw new ConfigError('BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE must be set together');
  if (certFile && keyFile) {
    if (insecure) throw new ConfigError('BUNDLE_ALLOW_INSECURE_HTTP=true contradicts BUNDLE_TLS_CERT_FILE/BUNDLE_TLS_KEY_FILE: set one or the other');
    const tls = { certFile, keyFile };
    try {
      loadTlsPair(tls);
    } catch (err) {
      if (err instanceof TlsConfigError) throw new ConfigError(`BUNDLE_TLS_CERT_FILE/BUNDLE_TLS_KEY_FILE: ${err.message}`, { cause: err });
      throw err;
    }
    return tls;
  }
  if (!insecure) {
    throw new ConfigError('BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE are not set: the bundle service receives the authorizers\' service-account tokens '
      + 'and serves TLS only (mount Secret toolgate-bundles-tls; see config/manager/README.md); set BUNDLE_ALLOW_INSECURE_HTTP=true to serve plain HTTP on a loopback development setup');
  }
  log.warn('BUNDLE_ALLOW_INSECURE_HTTP=true: the bundle service serves plain HTTP and authorizer tokens cross the network unencrypted');
  return undefined;
}
