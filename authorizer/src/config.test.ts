import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { configFromEnv as fromEnv } from './config.ts';

const configFromEnv = () => fromEnv(pino({ level: 'silent' }));

const keyDir = mkdtempSync(join(tmpdir(), 'toolgate-main-'));
writeFileSync(join(keyDir, 'public.pem'), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
writeFileSync(join(keyDir, 'key-id'), 'op-key\n');
writeFileSync(join(keyDir, 'algorithm'), 'ES256');
writeFileSync(join(keyDir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
const base = {
  POD_NAME: 'authz-0', POD_NAMESPACE: 'toolgate-system', BUNDLE_SERVICE_URL: 'https://toolgate-bundles.toolgate-system.svc:8443',
  POLICIES: 'team-a/agents, team-b/mail', BUNDLE_PUBLIC_KEY_FILE: join(keyDir, 'public.pem'),
};
const saved = { ...process.env };
const withEnv = (env: Record<string, string>) => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, env);
};
afterEach(() => withEnv({}));

describe('configFromEnv', () => {
  it('reads the pod, policies and key (key id and algorithm from the mounted ConfigMap)', () => {
    withEnv(base);
    const cfg = configFromEnv();
    expect(cfg).toMatchObject({
      namespace: 'toolgate-system', podName: 'authz-0', policies: ['team-a/agents', 'team-b/mail'], reportRevisions: true, probePort: 8081,
      verification: { keyId: 'op-key', algorithm: 'ES256' }, extAuthz: { port: 9191 }, proxy: { port: 8080, allowedOrigins: [] },
    });
  });

  it('leaves the proxy\'s transport limits at their defaults when unset, and reads them when set', () => {
    withEnv(base);
    const unset = configFromEnv();
    expect(unset.proxy).not.toHaveProperty('maxBodyBytes');
    expect(unset.proxy).not.toHaveProperty('server');
    expect(unset.proxy).not.toHaveProperty('replay');
    withEnv({
      ...base, MAX_REQUEST_BYTES: '8388608', PROXY_SERVER: 'github', PROXY_TOOL_SEPARATOR: '.', PROXY_MAX_UPSTREAM_EVENT_CHARS: '134217728',
      PROXY_REPLAY_EVENTS: '50', PROXY_REPLAY_BYTES: '65536', PROXY_REPLAY_STREAMS: '4', PROXY_RESUME_GRACE_SECONDS: '5',
      PROXY_TASK_TTL_SECONDS: '600', PROXY_TASK_MAX_TTL_SECONDS: '7200', PROXY_TASKS_PER_SESSION: '3',
      PROXY_REPLAY_BUDGET_BYTES: '8388608', PROXY_MAX_SESSIONS: '500', PROXY_MAX_SESSIONS_PER_CALLER: '20', PROXY_SESSION_IDLE_SECONDS: '300',
    });
    const cfg = configFromEnv();
    expect(cfg.extAuthz?.maxBodyBytes).toBe(8388608);
    expect(cfg.proxy).toMatchObject({
      maxBodyBytes: 8388608, server: 'github', separator: '.', maxSseEventChars: 134217728,
      replay: { maxEvents: 50, maxBytes: 65536, maxStreams: 4 }, resumeGraceMs: 5000,
      tasks: { defaultTtlMs: 600_000, maxTtlMs: 7_200_000, maxPerSession: 3 },
      replayBudgetBytes: 8388608, maxSessions: 500, maxSessionsPerCaller: 20, sessionIdleMs: 300_000,
    });
    expect(unset.proxy).not.toHaveProperty('tasks');
    for (const k of ['replayBudgetBytes', 'maxSessions', 'maxSessionsPerCaller', 'sessionIdleMs']) expect(unset.proxy).not.toHaveProperty(k);
  });

  it('names the variable of a bad proxy limit', () => {
    for (const [name, value, says] of [
      ['MAX_REQUEST_BYTES', '0', 'MAX_REQUEST_BYTES must be at least 1'],
      ['MAX_REQUEST_BYTES', '4MiB', 'MAX_REQUEST_BYTES must be a non-negative integer'],
      ['PROXY_REPLAY_EVENTS', '-1', 'PROXY_REPLAY_EVENTS must be a non-negative integer'],
      ['PROXY_SERVER', 'GitHub', 'PROXY_SERVER must be the name of a governed server'],
      ['PROXY_TOOL_SEPARATOR', '-', 'PROXY_TOOL_SEPARATOR must be 1-8 non-space characters'],
      ['PROXY_TASK_TTL_SECONDS', '90000', 'PROXY_TASK_TTL_SECONDS (90000) must not exceed PROXY_TASK_MAX_TTL_SECONDS (86400)'],
      ['PROXY_TASKS_PER_SESSION', '0', 'PROXY_TASKS_PER_SESSION must be at least 1'],
      ['PROXY_MAX_SESSIONS_PER_CALLER', '20000', 'PROXY_MAX_SESSIONS_PER_CALLER (20000) must not exceed PROXY_MAX_SESSIONS (10000)'],
      ['PROXY_REPLAY_BUDGET_BYTES', '0', 'PROXY_REPLAY_BUDGET_BYTES must be at least 1'],
    ] as const) {
      withEnv({ ...base, [name]: value });
      expect(() => configFromEnv(), `${name}=${value}`).toThrow(says);
    }
  });

  it('reads the verified-token cache bounds (default: the verifier\'s own), refusing bad ones by name', () => {
    withEnv(base);
    expect(configFromEnv()).not.toHaveProperty('identity');
    withEnv({ ...base, TOKEN_CACHE_SIZE: '0' });
    expect(configFromEnv().identity).toEqual({ tokenCache: { maxEntries: 0 } });
    withEnv({ ...base, TOKEN_CACHE_SIZE: '500', TOKEN_CACHE_MAX_SECONDS: '60' });
    expect(configFromEnv().identity).toEqual({ tokenCache: { maxEntries: 500, maxAgeMs: 60_000 } });
    for (const [name, value, says] of [
      ['TOKEN_CACHE_SIZE', '-5', 'TOKEN_CACHE_SIZE must be a non-negative integer'],
      ['TOKEN_CACHE_MAX_SECONDS', '0', 'TOKEN_CACHE_MAX_SECONDS must be at least 1'],
    ] as const) {
      withEnv({ ...base, [name]: value });
      expect(() => configFromEnv(), `${name}=${value}`).toThrow(says);
    }
  });

  it('spreads decisions over the machine\'s cores beside the main thread unless AUTHORIZER_WORKERS says otherwise', () => {
    withEnv(base);
    expect(configFromEnv().workers).toBe(availableParallelism() - 1);
    withEnv({ ...base, AUTHORIZER_WORKERS: '1' });
    expect(configFromEnv().workers).toBe(1);
    withEnv({ ...base, AUTHORIZER_WORKERS: '0' });
    expect(configFromEnv().workers).toBe(0);
    withEnv({ ...base, AUTHORIZER_WORKERS: 'all' });
    expect(() => configFromEnv()).toThrow('AUTHORIZER_WORKERS must be a non-negative integer');
  });

  it('disables a front end with "off"', () => {
    withEnv({ ...base, EXT_AUTHZ_PORT: 'off', ALLOWED_ORIGINS: 'http://localhost:6274' });
    const cfg = configFromEnv();
    expect(cfg.extAuthz).toBeUndefined();
    expect(cfg.proxy?.allowedOrigins).toEqual(['http://localhost:6274']);
  });

  it('takes plain HTTP for the bundle service only when BUNDLE_ALLOW_INSECURE_HTTP=true', () => {
    withEnv({ ...base, BUNDLE_SERVICE_URL: 'http://127.0.0.1:8443', BUNDLE_ALLOW_INSECURE_HTTP: 'true' });
    expect(configFromEnv().bundleService).toBe('http://127.0.0.1:8443');
    withEnv({ ...base, BUNDLE_CA_FILE: join(keyDir, 'ca.crt') });
    expect(configFromEnv()).toMatchObject({ bundleService: 'https://toolgate-bundles.toolgate-system.svc:8443', caFile: join(keyDir, 'ca.crt') });
  });

  it('checks the shipped admission policy and binding while approvals are on, or the ones named', () => {
    withEnv(base);
    expect(configFromEnv().approvals).toEqual({ enabled: true, admission: { policy: 'toolgate-approvalrequests', binding: 'toolgate-approvalrequests', intervalMs: 30_000 } });
    withEnv({ ...base, APPROVAL_ADMISSION_POLICY: 'p', APPROVAL_ADMISSION_BINDING: 'b', APPROVAL_ADMISSION_CHECK_SECONDS: '5' });
    expect(configFromEnv().approvals).toEqual({ enabled: true, admission: { policy: 'p', binding: 'b', intervalMs: 5_000 } });
    withEnv({ ...base, APPROVALS: 'false' });
    expect(configFromEnv().approvals).toEqual({ enabled: false });
  });

  it.each([
    [{ POLICIES: '' }, /POLICIES is not set/],
    [{ POLICIES: 'agents' }, /POLICIES: "agents" must be "<namespace>\/<name>"/],
    [{ POD_NAME: '' }, /POD_NAME is not set/],
    [{ BUNDLE_SERVICE_URL: 'toolgate-bundles' }, /BUNDLE_SERVICE_URL is not a URL/],
    [{ BUNDLE_SERVICE_URL: 'ftp://x' }, /BUNDLE_SERVICE_URL must be an https:\/\/ URL/],
    [{ BUNDLE_SERVICE_URL: 'http://toolgate-bundles:8443' }, /BUNDLE_SERVICE_URL is "http:\/\/toolgate-bundles:8443", plain HTTP: .*must be https:\/\/ .*set BUNDLE_ALLOW_INSECURE_HTTP=true/],
    [{ BUNDLE_SERVICE_URL: 'http://toolgate-bundles:8443', BUNDLE_ALLOW_INSECURE_HTTP: 'maybe' }, /BUNDLE_ALLOW_INSECURE_HTTP must be true or false/],
    [{ BUNDLE_CA_FILE: join(keyDir, 'missing.crt') }, /BUNDLE_CA_FILE: cannot read/],
    [{ BUNDLE_CA_FILE: join(keyDir, 'key-id') }, /BUNDLE_CA_FILE: .*key-id holds no PEM certificate/],
    [{ APPROVAL_ADMISSION_CHECK_SECONDS: '0' }, /APPROVAL_ADMISSION_CHECK_SECONDS must be at least 1/],
    [{ PROXY_PORT: '70000' }, /PROXY_PORT must be a port number/],
    [{ REPORT_REVISIONS: 'maybe' }, /REPORT_REVISIONS must be true or false/],
    [{ BUNDLE_PUBLIC_KEY_FILE: join(keyDir, 'missing.pem') }, /BUNDLE_PUBLIC_KEY_FILE: cannot read/],
    [{ BUNDLE_PUBLIC_KEY_FILE: join(keyDir, 'key-id') }, /is not a PEM public key/],
  ])('names the variable at fault: %j', (env, message) => {
    withEnv({ ...base, ...env });
    expect(() => configFromEnv()).toThrow(message);
  });
});
