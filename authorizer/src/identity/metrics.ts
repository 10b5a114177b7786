// Authentication outcomes. `reason` is one of authnReasons (bounded), never a claim value.
import { Counter, type Registry } from 'prom-client';

export function createAuthnMetrics(registry: Registry) {
  return {
    authnTotal: new Counter({
      name: 'toolgate_authorizer_authn_total',
      help: 'Bearer token checks by result (accepted, refused) and reason (ok or why it was refused).',
      labelNames: ['result', 'reason'] as const,
      registers: [registry],
    }),
  };
}

export type AuthnMetrics = ReturnType<typeof createAuthnMetrics>;
