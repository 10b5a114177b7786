// The authorizer's configuration from the environment (documented in
// config/authorizer/README.md). Every configuration error names the variable at fault and what
// it expects. cmd/authorizer/main.ts wires it to startAuthorizer.
import { readFileSync } from 'node:fs';
import { bool, ConfigError, file, int, list, optional, port, required } from '../../pkg/env/env.ts';
import { defaultAdmissionObject } from './approvals/admission-guard.ts';
import type { Logger } from '../../pkg/observability/log.ts';
import type { AuthorizerConfig } from './authorizer.ts';
import { validSeparator } from './gate/tool-names.ts';
import { auditSinksFromEnv } from './audit/sinks/config.ts';
import { defaultWorkerCount } from '../../pkg/policy/pool/index.ts';

/**
 * The bundle service URL. The authorizer presents its service-account token there, so only
 * https:// is accepted unless plain HTTP is asked for by name (loopback development only).
 */
function bundleServiceUrl(): string {
  const name = 'BUNDLE_SERVICE_URL';
  const v = required(name, 'the URL of the operator\'s bundle service, e.g. https://toolgate-bundles.toolgate-system.svc:8443');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`${name} is not a URL: "${v}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name} must be an https:// URL, got "${v}"`);
  if (u.protocol === 'http:' && !bool('BUNDLE_ALLOW_INSECURE_HTTP', false)) {
    throw new ConfigError(`${name} is "${v}", plain HTTP: the authorizer sends its service-account token to the bundle service, so it must be https:// `
      + '(with BUNDLE_CA_FILE naming the CA of the operator\'s certificate); set BUNDLE_ALLOW_INSECURE_HTTP=true to allow plain HTTP on a loopback development setup');
  }
  return v;
}

/** The admission policy and binding the authorizer checks for before it serves (approvals on). */
function admissionGuard(): { policy: string; binding: string; intervalMs: number } {
  const checkSeconds = int('APPROVAL_ADMISSION_CHECK_SECONDS', 30);
  if (checkSeconds < 1) throw new ConfigError(`APPROVAL_ADMISSION_CHECK_SECONDS must be at least 1, got ${checkSeconds}`);
  return {
    policy: optional('APPROVAL_ADMISSION_POLICY') ?? defaultAdmissionObject,
    binding: optional('APPROVAL_ADMISSION_BINDING') ?? defaultAdmissionObject,
    intervalMs: checkSeconds * 1000,
  };
}

export function configFromEnv(log: Logger): AuthorizerConfig {
  const policies = list('POLICIES');
  if (policies.length === 0) throw new ConfigError('POLICIES is not set: expected a comma-separated list of "<namespace>/<name>" McpSecurityPolicies to enforce');
  const bad = policies.filter((p) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(p));
  if (bad.length) throw new ConfigError(`POLICIES: ${bad.map((p) => `"${p}"`).join(', ')} must be "<namespace>/<name>"`);
  const keyFile = optional('BUNDLE_PUBLIC_KEY_FILE') ?? '/etc/toolgate/bundle-signing/public.pem';
  const publicKeyPem = file('BUNDLE_PUBLIC_KEY_FILE', keyFile)!;
  if (!publicKeyPem.includes('-----BEGIN')) throw new ConfigError(`BUNDLE_PUBLIC_KEY_FILE: ${keyFile} is not a PEM public key`);
  const keyDir = keyFile.replace(/\/[^/]*$/, '');
  // The operator's ConfigMap carries key-id and algorithm beside public.pem: read them when mounted.
  const keyId = optional('BUNDLE_KEY_ID') ?? readOptional(`${keyDir}/key-id`) ?? 'toolgate';
  const algorithm = optional('BUNDLE_KEY_ALGORITHM') ?? readOptional(`${keyDir}/algorithm`) ?? 'RS256';
  const extPort = port('EXT_AUTHZ_PORT', 9191);
  const proxyPort = port('PROXY_PORT', 8080);
  const vaultAddr = optional('VAULT_ADDR');
  const resourceMetadataUrl = optional('RESOURCE_METADATA_URL');
  const allowedHosts = list('ALLOWED_HOSTS');
  const tokenPath = optional('BUNDLE_TOKEN_FILE');
  const caFile = optional('BUNDLE_CA_FILE');
  if (caFile && !file('BUNDLE_CA_FILE', caFile)!.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`BUNDLE_CA_FILE: ${caFile} holds no PEM certificate`);
  const approvals = bool('APPROVALS', true);
  const podUid = optional('POD_UID');
  const audit = auditConfig();
  const maxRequestBytes = positiveInt('MAX_REQUEST_BYTES');
  const tokenCache = tokenCacheConfig();
  const workers = int('AUTHORIZER_WORKERS', defaultWorkerCount());
  return {
    namespace: required('POD_NAMESPACE', 'the pod\'s namespace (downward API metadata.namespace)'),
    podName: required('POD_NAME', 'the pod\'s name (downward API metadata.name)'),
    ...(podUid ? { podUid } : {}),
    bundleService: bundleServiceUrl(),
    policies,
    ...(tokenPath ? { tokenPath } : {}),
    ...(caFile ? { caFile } : {}),
    verification: { publicKeyPem, keyId, algorithm },
    ...(extPort ? {
      extAuthz: {
        port: extPort,
        passAuthorization: bool('EXT_AUTHZ_PASS_AUTHORIZATION', false),
        // Envoy Gateway can only name the server with a header its listener sets; plain Envoy and
        // Istio use context_extensions and should set this to false.
        trustServerHeader: bool('EXT_AUTHZ_TRUST_SERVER_HEADER', false),
        ...(maxRequestBytes !== undefined ? { maxBodyBytes: maxRequestBytes } : {}),
      },
    } : {}),
    ...(proxyPort ? {
      proxy: {
        port: proxyPort,
        allowedOrigins: list('ALLOWED_ORIGINS'),
        ...(allowedHosts.length ? { allowedHosts } : {}),
        ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}),
        approvalMode: approvalMode(),
        ...(maxRequestBytes !== undefined ? { maxBodyBytes: maxRequestBytes } : {}),
        ...proxyTransport(),
      },
    } : {}),
    approvals: { enabled: approvals, ...(approvals ? { admission: admissionGuard() } : {}) },
    toolPinning: { enabled: bool('TOOL_PINNING', true) },
    ...(audit ? { audit } : {}),
    ...(tokenCache ? { identity: { tokenCache } } : {}),
    workers,
    probePort: port('PROBE_PORT', 8081)!,
    reportRevisions: bool('REPORT_REVISIONS', true),
    ...(vaultAddr ? {
      vault: {
        endpoint: vaultAddr,
        ...(optional('VAULT_ROLE') ? { defaultRole: optional('VAULT_ROLE')! } : {}),
        ...(optional('VAULT_AUTH_MOUNT') ? { authMount: optional('VAULT_AUTH_MOUNT')! } : {}),
        ...(optional('VAULT_CACERT') ? { caCert: file('VAULT_CACERT')! } : {}),
      },
    } : {}),
    log,
  };
}

/** The audit trail's file and its sinks (authorizer/src/audit/sinks/config.ts); undefined: no trail. */
function auditConfig(): AuthorizerConfig['audit'] {
  const file = optional('AUDIT_FILE');
  const sinks = auditSinksFromEnv(file);
  return file ? { file, fsync: bool('AUDIT_FSYNC', true), ...sinks } : undefined;
}

/** The verified-token cache (authorizer/src/identity/token-cache.ts): TOKEN_CACHE_SIZE entries (0: off), each used at most TOKEN_CACHE_MAX_SECONDS. */
function tokenCacheConfig(): { maxEntries?: number; maxAgeMs?: number } | undefined {
  const size = optional('TOKEN_CACHE_SIZE') !== undefined ? int('TOKEN_CACHE_SIZE', 0) : undefined;
  const seconds = positiveInt('TOKEN_CACHE_MAX_SECONDS');
  if (size === undefined && seconds === undefined) return undefined;
  return { ...(size !== undefined ? { maxEntries: size } : {}), ...(seconds !== undefined ? { maxAgeMs: seconds * 1000 } : {}) };
}

/** A limit that must be at least 1 when set; undefined (the built-in default) when unset. */
function positiveInt(name: string): number | undefined {
  if (optional(name) === undefined) return undefined;
  const n = int(name, 0);
  if (n < 1) throw new ConfigError(`${name} must be at least 1, got ${n}`);
  return n;
}

/** The proxy's transport settings: what its endpoint fronts, upstream event size, the replay window of its own streams. */
function proxyTransport(): {
  server?: string; separator?: string; maxSseEventChars?: number; replay?: { maxEvents?: number; maxBytes?: number; maxStreams?: number }; replayBudgetBytes?: number;
  resumeGraceMs?: number; tasks?: { defaultTtlMs?: number; maxTtlMs?: number; maxPerSession?: number };
  maxSessions?: number; maxSessionsPerCaller?: number; sessionIdleMs?: number;
} {
  const server = optional('PROXY_SERVER');
  if (server !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(server)) throw new ConfigError(`PROXY_SERVER must be the name of a governed server (a DNS label), got "${server}"`);
  const separator = optional('PROXY_TOOL_SEPARATOR');
  if (separator !== undefined && !validSeparator(separator)) {
    throw new ConfigError(`PROXY_TOOL_SEPARATOR must be 1-8 non-space characters including one that cannot occur in a server name (outside [a-z0-9-]), got "${separator}"`);
  }
  const maxSseEventChars = positiveInt('PROXY_MAX_UPSTREAM_EVENT_CHARS');
  const maxEvents = positiveInt('PROXY_REPLAY_EVENTS');
  const maxBytes = positiveInt('PROXY_REPLAY_BYTES');
  const maxStreams = positiveInt('PROXY_REPLAY_STREAMS');
  const graceSeconds = optional('PROXY_RESUME_GRACE_SECONDS') !== undefined ? int('PROXY_RESUME_GRACE_SECONDS', 0) : undefined;
  const replay = { ...(maxEvents ? { maxEvents } : {}), ...(maxBytes ? { maxBytes } : {}), ...(maxStreams ? { maxStreams } : {}) };
  const taskTtl = positiveInt('PROXY_TASK_TTL_SECONDS');
  const taskMaxTtl = positiveInt('PROXY_TASK_MAX_TTL_SECONDS');
  const tasksPerSession = positiveInt('PROXY_TASKS_PER_SESSION');
  if (taskTtl !== undefined && taskTtl > (taskMaxTtl ?? 86_400)) {
    throw new ConfigError(`PROXY_TASK_TTL_SECONDS (${taskTtl}) must not exceed PROXY_TASK_MAX_TTL_SECONDS (${taskMaxTtl ?? 86_400})`);
  }
  const tasks = { ...(taskTtl ? { defaultTtlMs: taskTtl * 1000 } : {}), ...(taskMaxTtl ? { maxTtlMs: taskMaxTtl * 1000 } : {}), ...(tasksPerSession ? { maxPerSession: tasksPerSession } : {}) };
  const replayBudgetBytes = positiveInt('PROXY_REPLAY_BUDGET_BYTES');
  const maxSessions = positiveInt('PROXY_MAX_SESSIONS');
  const maxSessionsPerCaller = positiveInt('PROXY_MAX_SESSIONS_PER_CALLER');
  if (maxSessionsPerCaller !== undefined && maxSessionsPerCaller > (maxSessions ?? 10_000)) {
    throw new ConfigError(`PROXY_MAX_SESSIONS_PER_CALLER (${maxSessionsPerCaller}) must not exceed PROXY_MAX_SESSIONS (${maxSessions ?? 10_000}): one caller could take every session`);
  }
  const idleSeconds = positiveInt('PROXY_SESSION_IDLE_SECONDS');
  return {
    ...(replayBudgetBytes ? { replayBudgetBytes } : {}),
    ...(maxSessions ? { maxSessions } : {}),
    ...(maxSessionsPerCaller ? { maxSessionsPerCaller } : {}),
    ...(idleSeconds ? { sessionIdleMs: idleSeconds * 1000 } : {}),
    ...(Object.keys(tasks).length ? { tasks } : {}),
    ...(server ? { server } : {}),
    ...(separator ? { separator } : {}),
    ...(maxSseEventChars ? { maxSseEventChars } : {}),
    ...(Object.keys(replay).length ? { replay } : {}),
    ...(graceSeconds !== undefined ? { resumeGraceMs: graceSeconds * 1000 } : {}),
  };
}

/** hold: keep a held tools/call open until it is decided; retry: answer at once with the approval reference. */
function approvalMode(): 'hold' | 'retry' {
  const v = optional('APPROVAL_MODE') ?? 'hold';
  if (v !== 'hold' && v !== 'retry') throw new ConfigError(`APPROVAL_MODE must be "hold" or "retry", got "${v}"`);
  return v;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
