// Operator entry point: configuration from the environment, graceful shutdown on signals.
import { fileURLToPath } from 'node:url';
import { ConfigError, fileBytes, int, list, optional, stopOnSignals } from '../../pkg/env/env.ts';
import { startOperator } from '../../operator/src/operator.ts';
import { createLogger, errorMessage } from '../../pkg/observability/log.ts';

const log = createLogger('operator');

try {
  const cert = fileBytes('BUNDLE_TLS_CERT_FILE');
  const key = fileBytes('BUNDLE_TLS_KEY_FILE');
  if (Boolean(cert) !== Boolean(key)) throw new ConfigError('BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE must be set together');
  const allow = list('BUNDLE_ALLOWED_SERVICE_ACCOUNTS');
  const audiences = list('BUNDLE_TOKEN_AUDIENCES');
  const namespace = process.env.POD_NAMESPACE ?? process.env.TOOLGATE_NAMESPACE ?? 'toolgate-system';
  // The webhook URL is a credential: prefer a Secret (APPROVAL_WEBHOOK_SECRET, key `url` unless
  // APPROVAL_WEBHOOK_SECRET_KEY says otherwise, read at send time) over a plain env value.
  const webhookSecret = optional('APPROVAL_WEBHOOK_SECRET');
  const webhookUrl = optional('APPROVAL_WEBHOOK_URL');
  const approvalNamespaces = list('APPROVAL_NAMESPACES');
  const watchNamespace = optional('WATCH_NAMESPACE');
  const operator = await startOperator({
    leaseNamespace: namespace,
    ...(watchNamespace ? { watchNamespace } : {}),
    identity: process.env.POD_NAME,
    probePort: int('PROBE_PORT', 8081),
    bundles: {
      policyWasm: fileBytes('POLICY_WASM_FILE', fileURLToPath(new URL('../../build/policy/policy.wasm', import.meta.url)))!,
      port: int('BUNDLE_PORT', 8443),
      ...(cert && key ? { tls: { cert, key } } : {}),
      ...(allow.length ? { allow } : {}),
      ...(audiences.length ? { audiences } : {}),
    },
    approvals: {
      retentionMs: int('APPROVAL_RETENTION_SECONDS', 24 * 3600) * 1000,
      ...(approvalNamespaces.length ? { namespaces: approvalNamespaces } : {}),
      ...(webhookSecret ? { webhook: { secret: { namespace, name: webhookSecret, key: optional('APPROVAL_WEBHOOK_SECRET_KEY') ?? 'url' } } }
        : webhookUrl ? { webhook: { url: webhookUrl } } : {}),
    },
    log,
  });
  stopOnSignals(operator, log);
} catch (err) {
  log.fatal({ err: errorMessage(err) }, err instanceof ConfigError ? 'operator configuration is invalid' : 'operator failed to start');
  process.exit(1);
}
