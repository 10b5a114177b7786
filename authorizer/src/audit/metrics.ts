import { Counter, Gauge, type Registry } from 'prom-client';

/** What the oldest-unsent gauge reads from each sink's channel at scrape time. */
export interface SinkAge {
  readonly name: string;
  oldestUnsentSeconds(): number;
}

export interface AuditMetrics {
  records: Counter;
  writeErrors: Counter;
  /** Response records (what the upstream answered) that could not be written; the answer was relayed. */
  responseRecordsLost: Counter;
  /** The active file moved aside (rotation.ts). */
  rotations: Counter;
  /** Rotated files deleted at the end of their retention, each after its expiry record. */
  expired: Counter;
  /** Retention sweeps that failed (the files are tried again next time). */
  expiryErrors: Counter;
  /** Lines each sink's buffer holds, not yet delivered. */
  sinkBacklogLines: Gauge<'sink'>;
  sinkBacklogBytes: Gauge<'sink'>;
  sinkWritten: Counter<'sink'>;
  sinkFailures: Counter<'sink'>;
  sinkDropped: Counter<'sink'>;
  sinkOldestUnsent: Gauge<'sink'>;
  /** The channels the oldest-unsent gauge reads (a channel adds itself, and leaves when closed). */
  sinks: Set<SinkAge>;
}

export function createAuditMetrics(registry: Registry): AuditMetrics {
  const sinks = new Set<SinkAge>();
  return {
    records: new Counter({ name: 'toolgate_authorizer_audit_records_total', help: 'Records (decisions, approval outcomes, refusals) written to the audit trail.', registers: [registry] }),
    writeErrors: new Counter({
      name: 'toolgate_authorizer_audit_write_errors_total',
      help: 'Records that could not be written to the audit trail (the request was still answered).',
      registers: [registry],
    }),
    responseRecordsLost: new Counter({
      name: 'toolgate_authorizer_audit_response_records_lost_total',
      help: 'Response records that could not be written to the audit trail or a required sink; the answer was still relayed (its decision record was written before the call).',
      registers: [registry],
    }),
    rotations: new Counter({ name: 'toolgate_authorizer_audit_file_rotations_total', help: 'Times the audit file was rotated (size or day).', registers: [registry] }),
    expired: new Counter({ name: 'toolgate_authorizer_audit_files_expired_total', help: 'Rotated audit files deleted at the end of their retention, each recorded by an expiry record.', registers: [registry] }),
    expiryErrors: new Counter({ name: 'toolgate_authorizer_audit_retention_sweep_errors_total', help: 'Audit retention sweeps that failed; the expired files are tried again on the next sweep.', registers: [registry] }),
    sinkBacklogLines: new Gauge({ name: 'toolgate_authorizer_audit_sink_backlog_lines', help: 'Audit lines waiting in a sink\'s buffer, not yet delivered.', labelNames: ['sink'], registers: [registry] }),
    sinkBacklogBytes: new Gauge({ name: 'toolgate_authorizer_audit_sink_backlog_bytes', help: 'Bytes of the audit lines waiting in a sink\'s buffer.', labelNames: ['sink'], registers: [registry] }),
    sinkWritten: new Counter({ name: 'toolgate_authorizer_audit_sink_lines_written_total', help: 'Audit lines a sink acknowledged.', labelNames: ['sink'], registers: [registry] }),
    sinkFailures: new Counter({ name: 'toolgate_authorizer_audit_sink_write_failures_total', help: 'Failed deliveries to a sink (each retried with backoff).', labelNames: ['sink'], registers: [registry] }),
    sinkDropped: new Counter({
      name: 'toolgate_authorizer_audit_sink_dropped_lines_total',
      help: 'Audit lines a sink never got (buffer full, or unsent at close); each drop is declared by an overflow record in the trail.',
      labelNames: ['sink'],
      registers: [registry],
    }),
    sinkOldestUnsent: new Gauge({
      name: 'toolgate_authorizer_audit_sink_oldest_unsent_seconds',
      help: 'Age of the oldest audit line a sink has not acknowledged yet (0 when none waits).',
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        for (const s of sinks) this.set({ sink: s.name }, s.oldestUnsentSeconds());
      },
    }),
    sinks,
  };
}
