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
    tokenCacheTotal: new Counter({
      name: 'toolgate_authorizer_token_cache_total',
      help: 'Verified-token cache lookups and evictions: hit (signature check skipped), miss (verified afresh), eviction (least recently used entry dropped at the size bound).',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
  };
}

export type AuthnMetrics = ReturnType<typeof createAuthnMetrics>;
