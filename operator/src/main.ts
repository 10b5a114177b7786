// Operator entry point: configuration from the environment, graceful shutdown on signals.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startOperator } from './operator.ts';
import { createLogger, errorMessage } from './observability/log.ts';

const log = createLogger('operator');

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function listFromEnv(name: string): string[] | undefined {
  const raw = process.env[name]?.trim();
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

function fileFromEnv(name: string, fallback?: string): Buffer | undefined {
  const path = process.env[name] || fallback;
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${name}: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

try {
  const cert = fileFromEnv('BUNDLE_TLS_CERT_FILE');
  const key = fileFromEnv('BUNDLE_TLS_KEY_FILE');
  if (Boolean(cert) !== Boolean(key)) throw new Error('BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE must be set together');
  const allow = listFromEnv('BUNDLE_ALLOWED_SERVICE_ACCOUNTS');
  const audiences = listFromEnv('BUNDLE_TOKEN_AUDIENCES');
  const namespace = process.env.POD_NAMESPACE ?? process.env.TOOLGATE_NAMESPACE ?? 'toolgate-system';
  // The webhook URL is a credential: prefer a Secret (APPROVAL_WEBHOOK_SECRET, key `url` unless
  // APPROVAL_WEBHOOK_SECRET_KEY says otherwise, read at send time) over a plain env value.
  const webhookSecret = process.env.APPROVAL_WEBHOOK_SECRET?.trim();
  const webhookUrl = process.env.APPROVAL_WEBHOOK_URL?.trim();
  const approvalNamespaces = listFromEnv('APPROVAL_NAMESPACES');
  const operator = await startOperator({
    leaseNamespace: namespace,
    ...(process.env.WATCH_NAMESPACE ? { watchNamespace: process.env.WATCH_NAMESPACE } : {}),
    identity: process.env.POD_NAME,
    probePort: intFromEnv('PROBE_PORT', 8081),
    bundles: {
      policyWasm: fileFromEnv('POLICY_WASM_FILE', fileURLToPath(new URL('../../build/policy/policy.wasm', import.meta.url)))!,
      port: intFromEnv('BUNDLE_PORT', 8443),
      ...(cert && key ? { tls: { cert, key } } : {}),
      ...(allow ? { allow } : {}),
      ...(audiences ? { audiences } : {}),
    },
    approvals: {
      retentionMs: intFromEnv('APPROVAL_RETENTION_SECONDS', 24 * 3600) * 1000,
      ...(approvalNamespaces ? { namespaces: approvalNamespaces } : {}),
      ...(webhookSecret ? { webhook: { secret: { namespace, name: webhookSecret, key: process.env.APPROVAL_WEBHOOK_SECRET_KEY || 'url' } } }
        : webhookUrl ? { webhook: { url: webhookUrl } } : {}),
    },
    log,
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    operator.stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err: errorMessage(err) }, 'unclean shutdown');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
} catch (err) {
  log.fatal({ err: errorMessage(err) }, 'operator failed to start');
  process.exit(1);
}
