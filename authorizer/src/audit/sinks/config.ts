// The audit sinks' configuration from the environment (names in docs/audit-sinks.md), checked
// whole at start: a sink named but not configured, a value out of range or an AUDIT_* variable
// nobody reads (a typo would otherwise leave a sink silently unconfigured) stops the start with
// the variable at fault.
import { bool, ConfigError, int, list, optional, required } from '../../../../pkg/env/env.ts';
import { defaultRetention, type RetentionPolicy } from './retention.ts';
import { defaultRotation } from '../rotation.ts';
import type { ObjectLockMode } from './s3.ts';
import type { SinkMode } from './sink.ts';
import { defaultStdoutPrefix } from './stdout.ts';

export interface ChannelConfig {
  mode: SinkMode;
  maxLines: number;
  maxBytes: number;
  batchLines: number;
  timeoutMs: number;
}

export type AuditSinkConfig =
  | { kind: 'stdout'; channel: ChannelConfig; prefix: string; stream: 'stdout' | 'stderr' }
  | { kind: 'http'; channel: ChannelConfig; url: string; tokenFile?: string; timeoutMs: number }
  | { kind: 's3'; channel: ChannelConfig; bucket: string; prefix: string; region: string; endpoint?: string; forcePathStyle: boolean; lockMode: ObjectLockMode };

export type SinkKind = AuditSinkConfig['kind'];
const kinds: readonly SinkKind[] = ['stdout', 'http', 's3'];

const channelKeys = ['MODE', 'MAX_LINES', 'MAX_BYTES', 'BATCH_LINES', 'TIMEOUT_MS'];
const kindKeys: Record<SinkKind, string[]> = {
  stdout: ['PREFIX', 'STREAM'],
  http: ['URL', 'TOKEN_FILE', 'REQUEST_TIMEOUT_MS', 'ALLOW_INSECURE_HTTP'],
  s3: ['BUCKET', 'PREFIX', 'REGION', 'ENDPOINT', 'FORCE_PATH_STYLE', 'LOCK_MODE'],
};
/** Every AUDIT_* variable the authorizer reads (AUDIT_FILE and AUDIT_FSYNC are the file trail's). */
export const knownAuditVariables: ReadonlySet<string> = new Set([
  'AUDIT_FILE', 'AUDIT_FSYNC', 'AUDIT_FILE_ROTATE_BYTES', 'AUDIT_FILE_ROTATE_DAILY', 'AUDIT_FILE_RETENTION_SWEEP_MS', 'AUDIT_SINKS', 'AUDIT_SINK_CLOSE_TIMEOUT_MS', 'AUDIT_RETENTION_MONTHS', 'AUDIT_RETENTION_LONG_MONTHS', 'AUDIT_RETENTION_LONG_LABELS',
  // Sealing, digest and redaction (audit/checkpoint-config.ts).
  'AUDIT_SIGNING_KEY_FILE', 'AUDIT_SIGNING_KEY_ID', 'AUDIT_CHECKPOINT_EVERY', 'AUDIT_CHECKPOINT_INTERVAL', 'AUDIT_DIGEST_KEY_FILE', 'AUDIT_REDACT_DETECTORS', 'AUDIT_PERSONAL_FIELDS',
  ...kinds.flatMap((k) => [...channelKeys, ...kindKeys[k]].map((key) => `AUDIT_${k.toUpperCase()}_${key}`)),
]);

function atLeast(name: string, fallback: number, min: number): number {
  const n = int(name, fallback);
  if (n < min) throw new ConfigError(`${name} must be at least ${min}, got ${n}`);
  return n;
}

function oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
  const v = optional(name) ?? fallback;
  if (!(values as readonly string[]).includes(v)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${v}"`);
  return v as T;
}

function channel(kind: SinkKind): ChannelConfig {
  const p = `AUDIT_${kind.toUpperCase()}_`;
  return {
    mode: oneOf(`${p}MODE`, ['required', 'async'] as const, 'async'),
    maxLines: atLeast(`${p}MAX_LINES`, 10_000, 1),
    maxBytes: atLeast(`${p}MAX_BYTES`, 16 * 1024 * 1024, 1024),
    batchLines: atLeast(`${p}BATCH_LINES`, 500, 1),
    timeoutMs: atLeast(`${p}TIMEOUT_MS`, 5000, 1),
  };
}

function httpUrl(): string {
  const name = 'AUDIT_HTTP_URL';
  const v = required(name, 'the URL the http audit sink POSTs its gzip\'d batches to (OPA decision-log API), e.g. https://logs.example/logs');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`${name} is not a URL: "${v}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(`${name} must be an https:// URL, got "${v}"`);
  if (u.protocol === 'http:' && !bool('AUDIT_HTTP_ALLOW_INSECURE_HTTP', false)) {
    throw new ConfigError(`${name} is "${v}", plain HTTP: audit records would cross the network readable and unauthenticated; use https:// or set AUDIT_HTTP_ALLOW_INSECURE_HTTP=true (a sidecar on loopback)`);
  }
  if (u.username || u.password) throw new ConfigError(`${name} carries credentials in the URL; put a token in the file AUDIT_HTTP_TOKEN_FILE names`);
  return v;
}

function sink(kind: SinkKind): AuditSinkConfig {
  const ch = channel(kind);
  switch (kind) {
    case 'stdout': {
      // Read raw: the default prefix ends in a space that trimming would take.
      const prefix = process.env.AUDIT_STDOUT_PREFIX ?? defaultStdoutPrefix;
      if (/[\r\n]/.test(prefix)) throw new ConfigError('AUDIT_STDOUT_PREFIX must not contain a line break');
      return { kind, channel: ch, prefix, stream: oneOf('AUDIT_STDOUT_STREAM', ['stdout', 'stderr'] as const, 'stdout') };
    }
    case 'http': {
      const tokenFile = optional('AUDIT_HTTP_TOKEN_FILE');
      return { kind, channel: ch, url: httpUrl(), ...(tokenFile ? { tokenFile } : {}), timeoutMs: atLeast('AUDIT_HTTP_REQUEST_TIMEOUT_MS', 10_000, 1) };
    }
    case 's3': {
      const bucket = required('AUDIT_S3_BUCKET', 'the S3 bucket (created with Object Lock enabled) the s3 audit sink writes to');
      const prefix = optional('AUDIT_S3_PREFIX') ?? '';
      if (prefix.startsWith('/')) throw new ConfigError(`AUDIT_S3_PREFIX must not start with "/", got "${prefix}"`);
      const endpoint = optional('AUDIT_S3_ENDPOINT');
      if (endpoint) {
        try {
          new URL(endpoint);
        } catch {
          throw new ConfigError(`AUDIT_S3_ENDPOINT is not a URL: "${endpoint}"`);
        }
      }
      return {
        kind, channel: ch, bucket, prefix,
        region: optional('AUDIT_S3_REGION') ?? optional('AWS_REGION') ?? 'us-east-1',
        ...(endpoint ? { endpoint } : {}),
        forcePathStyle: bool('AUDIT_S3_FORCE_PATH_STYLE', endpoint !== undefined),
        lockMode: oneOf('AUDIT_S3_LOCK_MODE', ['COMPLIANCE', 'GOVERNANCE'] as const, 'COMPLIANCE'),
      };
    }
  }
}

export interface AuditSinksConfig {
  sinks: AuditSinkConfig[];
  retention: RetentionPolicy;
  /** The file's rotation (audit/rotation.ts): rotated files expire by `retention`, each recorded. */
  fileRotation: { maxBytes: number; daily: boolean; sweepMs: number };
  closeTimeoutMs: number;
}

/** The sinks and retention from the environment; throws a ConfigError naming the variable at fault. */
export function auditSinksFromEnv(auditFile: string | undefined): AuditSinksConfig {
  const unknown = Object.keys(process.env).filter((k) => k.startsWith('AUDIT_') && !knownAuditVariables.has(k));
  if (unknown.length) throw new ConfigError(`${unknown.sort().join(', ')}: not an audit setting the authorizer reads (a typo?); the AUDIT_* variables are listed in docs/audit-sinks.md`);
  const names = list('AUDIT_SINKS');
  const bad = names.filter((n) => !(kinds as readonly string[]).includes(n));
  if (bad.length) throw new ConfigError(`AUDIT_SINKS: ${bad.map((n) => `"${n}"`).join(', ')} is not a sink; expected a comma-separated list of ${kinds.join(', ')}`);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) throw new ConfigError(`AUDIT_SINKS names ${twice.map((n) => `"${n}"`).join(', ')} twice`);
  if (names.length && !auditFile) throw new ConfigError(`AUDIT_SINKS is set but AUDIT_FILE is not: the sinks copy the trail the file holds (and continues across restarts); set AUDIT_FILE`);
  const months = atLeast('AUDIT_RETENTION_MONTHS', defaultRetention.months, 1);
  const longMonths = atLeast('AUDIT_RETENTION_LONG_MONTHS', defaultRetention.longMonths, 1);
  if (longMonths < months) throw new ConfigError(`AUDIT_RETENTION_LONG_MONTHS (${longMonths}) must be at least AUDIT_RETENTION_MONTHS (${months})`);
  const labels = optional('AUDIT_RETENTION_LONG_LABELS') !== undefined ? list('AUDIT_RETENTION_LONG_LABELS') : [...defaultRetention.longLabels];
  return {
    sinks: (names as SinkKind[]).map(sink),
    retention: { months, longMonths, longLabels: new Set(labels) },
    fileRotation: {
      maxBytes: atLeast('AUDIT_FILE_ROTATE_BYTES', defaultRotation.maxBytes, 4096),
      daily: bool('AUDIT_FILE_ROTATE_DAILY', defaultRotation.daily),
      sweepMs: atLeast('AUDIT_FILE_RETENTION_SWEEP_MS', 3_600_000, 1000),
    },
    closeTimeoutMs: atLeast('AUDIT_SINK_CLOSE_TIMEOUT_MS', 5000, 0),
  };
}
