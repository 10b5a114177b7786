// Operator entry point: configuration from the environment, graceful shutdown on signals.
import { configFromEnv } from '../../operator/src/config.ts';
import { startOperator } from '../../operator/src/operator.ts';
import { ConfigError, stopOnSignals } from '../../pkg/env/env.ts';
import { createLogger, errorMessage } from '../../pkg/observability/log.ts';

const log = createLogger('operator');

try {
  stopOnSignals(await startOperator(configFromEnv(log)), log);
} catch (err) {
  log.fatal({ err: errorMessage(err) }, err instanceof ConfigError ? 'operator configuration is invalid' : 'operator failed to start');
  process.exit(1);
}
