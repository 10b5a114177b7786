// The sinks' environment: each sink's settings with their defaults, and a clear error for every
// misconfiguration — nothing starts with a sink silently missing.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../pkg/env/env.ts';
import { auditSinksFromEnv } from './config.ts';
import { addMonths, retentionMonthsOf } from './retention.ts';

const saved = { ...process.env };
function withEnv(env: Record<string, string>): void {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, env);
}
afterEach(() => withEnv({}));

const file = '/var/lib/toolgate/audit/audit.jsonl';

describe('auditSinksFromEnv', () => {
  it('has no sinks by default and 12/36 months retention', () => {
    withEnv({});
    const c = auditSinksFromEnv(file);
    expect(c.sinks).toEqual([]);
    expect(c.retention.months).toBe(12);
    expect(c.retention.longMonths).toBe(36);
    expect([...c.retention.longLabels]).toEqual(['health', 'health-data', 'phi']);
  });

  it('rotates the file at 64 MiB and daily by default, and reads the rotation settings, refusing a size under 4096', () => {
    withEnv({});
    expect(auditSinksFromEnv(file).fileRotation).toEqual({ maxBytes: 64 * 1024 * 1024, daily: true, sweepMs: 3_600_000 });
    withEnv({ AUDIT_FILE_ROTATE_BYTES: '1048576', AUDIT_FILE_ROTATE_DAILY: 'false', AUDIT_FILE_RETENTION_SWEEP_MS: '60000' });
    expect(auditSinksFromEnv(file).fileRotation).toEqual({ maxBytes: 1048576, daily: false, sweepMs: 60_000 });
    withEnv({ AUDIT_FILE_ROTATE_BYTES: '100' });
    expect(() => auditSinksFromEnv(file)).toThrow(/AUDIT_FILE_ROTATE_BYTES must be at least 4096, got 100/);
  });

  it('reads each sink with its channel settings, in the order AUDIT_SINKS names them', () => {
    withEnv({
      AUDIT_SINKS: 's3, stdout,http',
      AUDIT_S3_BUCKET: 'audit', AUDIT_S3_PREFIX: 'toolgate/', AUDIT_S3_ENDPOINT: 'http://127.0.0.1:7070', AUDIT_S3_MODE: 'required', AUDIT_S3_LOCK_MODE: 'GOVERNANCE',
      AUDIT_STDOUT_PREFIX: '', AUDIT_HTTP_URL: 'https://logs.example/logs', AUDIT_HTTP_MAX_LINES: '200', AUDIT_HTTP_TOKEN_FILE: '/var/run/secrets/token',
    });
    const c = auditSinksFromEnv(file);
    expect(c.sinks.map((s) => s.kind)).toEqual(['s3', 'stdout', 'http']);
    expect(c.sinks[0]).toEqual({
      kind: 's3', bucket: 'audit', prefix: 'toolgate/', region: 'us-east-1', endpoint: 'http://127.0.0.1:7070', forcePathStyle: true, lockMode: 'GOVERNANCE',
      channel: { mode: 'required', maxLines: 10_000, maxBytes: 16 * 1024 * 1024, batchLines: 500, timeoutMs: 5000 },
    });
    expect(c.sinks[1]).toMatchObject({ kind: 'stdout', prefix: '', stream: 'stdout', channel: { mode: 'async' } });
    expect(c.sinks[2]).toMatchObject({ kind: 'http', url: 'https://logs.example/logs', tokenFile: '/var/run/secrets/token', channel: { maxLines: 200 } });
  });

  it.each([
    [{ AUDIT_SINKS: 'kafka' }, /AUDIT_SINKS: "kafka" is not a sink; expected a comma-separated list of stdout, http, s3/],
    [{ AUDIT_SINKS: 'stdout,stdout' }, /AUDIT_SINKS names "stdout" twice/],
    [{ AUDIT_SINKS: 's3' }, /AUDIT_S3_BUCKET is not set/],
    [{ AUDIT_SINKS: 'http' }, /AUDIT_HTTP_URL is not set/],
    [{ AUDIT_SINKS: 'http', AUDIT_HTTP_URL: 'http://logs.example/logs' }, /plain HTTP.*AUDIT_HTTP_ALLOW_INSECURE_HTTP/],
    [{ AUDIT_SINKS: 'http', AUDIT_HTTP_URL: 'https://u:p@logs.example/logs' }, /AUDIT_HTTP_URL carries credentials/],
    [{ AUDIT_SINKS: 'stdout', AUDIT_STDOUT_MODE: 'sometimes' }, /AUDIT_STDOUT_MODE must be one of required, async, got "sometimes"/],
    [{ AUDIT_SINKS: 'stdout', AUDIT_STDOUT_MAX_LINES: '0' }, /AUDIT_STDOUT_MAX_LINES must be at least 1, got 0/],
    [{ AUDIT_SINKS: 's3', AUDIT_S3_BUCKET: 'b', AUDIT_S3_LOCK_MODE: 'compliance' }, /AUDIT_S3_LOCK_MODE must be one of COMPLIANCE, GOVERNANCE/],
    [{ AUDIT_S3_BUKET: 'b' }, /AUDIT_S3_BUKET: not an audit setting the authorizer reads \(a typo\?\)/],
    [{ AUDIT_RETENTION_MONTHS: '24', AUDIT_RETENTION_LONG_MONTHS: '12' }, /AUDIT_RETENTION_LONG_MONTHS \(12\) must be at least AUDIT_RETENTION_MONTHS \(24\)/],
  ])('refuses %o', (env, message) => {
    withEnv(env);
    expect(() => auditSinksFromEnv(file)).toThrow(ConfigError);
    expect(() => auditSinksFromEnv(file)).toThrow(message);
  });

  it('refuses sinks without the file trail they copy', () => {
    withEnv({ AUDIT_SINKS: 'stdout' });
    expect(() => auditSinksFromEnv(undefined)).toThrow(/AUDIT_SINKS is set but AUDIT_FILE is not/);
  });
});

describe('retention', () => {
  const line = (labels: string[]) => JSON.stringify({ type: 'decision', seq: 1, labels });
  it('keeps a record 12 months, 36 when it carries a health-data label', () => {
    expect(retentionMonthsOf(line(['pii']))).toBe(12);
    expect(retentionMonthsOf(line(['pii', 'phi']))).toBe(36);
    // Format 2 records carry the labels in their classification.
    const v2 = (labels: string[]) => JSON.stringify({ type: 'decision', version: 2, seq: 1, classification: { verb: 'get', labels, annotations: {}, sources: [] } });
    expect(retentionMonthsOf(v2(['pii']))).toBe(12);
    expect(retentionMonthsOf(v2(['pii', 'phi']))).toBe(36);
    expect(retentionMonthsOf(JSON.stringify({ type: 'refusal', seq: 2 }))).toBe(12);
    expect(retentionMonthsOf('not json')).toBe(36);
  });

  it('adds calendar months in UTC, to the month\'s last day when the day does not exist', () => {
    expect(addMonths(new Date('2026-01-31T10:00:00Z'), 1).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonths(new Date('2026-12-02T03:00:00Z'), 12).toISOString()).toBe('2027-12-02T03:00:00.000Z');
    expect(addMonths(new Date('2024-02-29T00:00:00Z'), 36).toISOString()).toBe('2027-02-28T00:00:00.000Z');
  });
});
