// Credential metrics. Labels carry the source and outcome only: never a Secret name, Vault path
// or value, so a dashboard cannot leak what the credentials are or where they live.
import { Counter, type Registry } from 'prom-client';
import type { CredentialErrorReason } from './errors.ts';

export type CredentialSourceKind = 'secret' | 'vault';

export function createCredentialMetrics(registry: Registry) {
  return {
    lookups: new Counter({
      name: 'toolgate_credential_lookups_total',
      help: 'Upstream credential look-ups by source and result (ok, or the failure reason).',
      labelNames: ['source', 'result'] as const,
      registers: [registry],
    }),
    vaultLogins: new Counter({
      name: 'toolgate_vault_logins_total',
      help: 'Vault Kubernetes-auth logins and token renewals by kind (login, renew) and result (ok, error).',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
  };
}

export type CredentialMetrics = ReturnType<typeof createCredentialMetrics>;
export type LookupResult = 'ok' | CredentialErrorReason;
