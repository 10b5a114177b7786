// Operator entry point: configuration from the environment, graceful shutdown on signals.
import { validatePolicy } from './compiler/index.ts';
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

try {
  const operator = await startOperator({
    leaseNamespace: process.env.POD_NAMESPACE ?? process.env.TOOLGATE_NAMESPACE ?? 'toolgate-system',
    identity: process.env.POD_NAME,
    probePort: intFromEnv('PROBE_PORT', 8081),
    validate: validatePolicy,
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
