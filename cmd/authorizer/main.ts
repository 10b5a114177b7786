// Authorizer entry point: configuration from the environment, graceful shutdown on signals.
import { startAuthorizer } from '../../authorizer/src/authorizer.ts';
import { configFromEnv } from '../../authorizer/src/config.ts';
import { shutdownFromEnv } from '../../authorizer/src/shutdown.ts';
import { runUntilSignalled } from '../../pkg/env/env.ts';

await runUntilSignalled('authorizer', (log) => startAuthorizer({ ...configFromEnv(log), shutdown: shutdownFromEnv() }));
