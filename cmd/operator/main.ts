// Operator entry point: configuration from the environment, graceful shutdown on signals.
import { configFromEnv } from '../../operator/src/config.ts';
import { startOperator } from '../../operator/src/operator.ts';
import { runUntilSignalled } from '../../pkg/env/env.ts';

await runUntilSignalled('operator', (log) => startOperator(configFromEnv(log)));
