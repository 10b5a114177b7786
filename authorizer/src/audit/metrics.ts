import { Counter, type Registry } from 'prom-client';

export interface AuditMetrics {
  records: Counter;
  writeErrors: Counter;
}

export function createAuditMetrics(registry: Registry): AuditMetrics {
  return {
    records: new Counter({ name: 'toolgate_authorizer_audit_records_total', help: 'Records (decisions, approval outcomes, refusals) written to the audit trail.', registers: [registry] }),
    writeErrors: new Counter({
      name: 'toolgate_authorizer_audit_write_errors_total',
      help: 'Records that could not be written to the audit trail (the request was still answered).',
      registers: [registry],
    }),
  };
}
