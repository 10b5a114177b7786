// Authorizer entry point: configuration from the environment, graceful shutdown on signals.
import { startAuthorizer } from '../../authorizer/src/authorizer.ts';
import { configFromEnv } from '../../authorizer/src/config.ts';
import { ConfigError, stopOnSignals } from '../../pkg/env/env.ts';
import { createLogger, errorMessage } from '../../pkg/observability/log.ts';

const log = createLogger('authorizer');

try {
  stopOnSignals(await startAuthorizer(configFromEnv(log)), log);
} catch (err) {
  log.fatal({ err: errorMessage(err) }, err instanceof ConfigError ? 'authorizer configuration is invalid' : 'authorizer failed to start');
  process.exit(1);
}
