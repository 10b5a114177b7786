import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintCa, mintServingCertificate, type ServingCertificate, type TestCa } from '../../test/support/tls.ts';
import { ConfigError } from '../../pkg/env/env.ts';
import { configFromEnv as fromEnv } from './config.ts';

const configFromEnv = () => fromEnv(pino({ level: 'silent' }));
const saved = { ...process.env };
const withEnv = (env: Record<string, string>) => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, env);
};
afterEach(() => withEnv({}));

let ca: TestCa & { remove(): Promise<void> };
let serving: ServingCertificate;
beforeAll(async () => {
  ca = await mintCa();
  serving = await mintServingCertificate(ca);
});
afterAll(() => ca?.remove());

describe('operator configFromEnv', () => {
  it('refuses to serve bundles without TLS unless plain HTTP is asked for by name', () => {
    withEnv({});
    expect(configFromEnv).toThrow(ConfigError);
    expect(configFromEnv).toThrow(/BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE are not set.*BUNDLE_ALLOW_INSECURE_HTTP=true/);
    withEnv({ BUNDLE_ALLOW_INSECURE_HTTP: 'true' });
    expect(configFromEnv().bundles.tls).toBeUndefined();
  });

  it('configures approving from Slack with both the Secret and the identity map, or not at all', () => {
    withEnv({ BUNDLE_ALLOW_INSECURE_HTTP: 'true', CHAT_SLACK_SECRET: 'toolgate-chat-slack' });
    expect(configFromEnv).toThrow('CHAT_SLACK_SECRET and CHAT_IDENTITIES_CONFIGMAP must be set together');
    withEnv({ BUNDLE_ALLOW_INSECURE_HTTP: 'true', POD_NAMESPACE: 'tg', CHAT_SLACK_SECRET: 'toolgate-chat-slack', CHAT_IDENTITIES_CONFIGMAP: 'toolgate-chat-identities' });
    expect(configFromEnv().approvals?.chat).toEqual({ slackSecret: { namespace: 'tg', name: 'toolgate-chat-slack' }, identities: { namespace: 'tg', name: 'toolgate-chat-identities' }, port: 8090, host: '0.0.0.0' });
    withEnv({ BUNDLE_ALLOW_INSECURE_HTTP: 'true' });
    expect(configFromEnv().approvals?.chat).toBeUndefined();
  });

  it('takes the certificate pair together, and refuses half a pair or a contradiction', () => {
    withEnv({ BUNDLE_TLS_CERT_FILE: serving.certFile });
    expect(configFromEnv).toThrow('BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE must be set together');
    withEnv({ BUNDLE_TLS_CERT_FILE: serving.certFile, BUNDLE_TLS_KEY_FILE: serving.keyFile, BUNDLE_ALLOW_INSECURE_HTTP: 'true' });
    expect(configFromEnv).toThrow(/contradicts/);
    withEnv({ BUNDLE_TLS_CERT_FILE: serving.certFile, BUNDLE_TLS_KEY_FILE: serving.keyFile });
    expect(configFromEnv().bundles.tls).toEqual({ certFile: serving.certFile, keyFile: serving.keyFile });
  });

  it('names the variable when the pair does not load', () => {
    withEnv({ BUNDLE_TLS_CERT_FILE: serving.certFile, BUNDLE_TLS_KEY_FILE: ca.certFile });
    expect(configFromEnv).toThrow(/^BUNDLE_TLS_CERT_FILE\/BUNDLE_TLS_KEY_FILE: /);
  });

  it('reads the approval settings, the webhook Secret before a plain URL', () => {
    withEnv({
      BUNDLE_ALLOW_INSECURE_HTTP: 'true', POD_NAMESPACE: 'tg', APPROVAL_NAMESPACES: 'team-a, team-b', APPROVAL_RETENTION_SECONDS: '60',
      APPROVAL_WEBHOOK_SECRET: 'toolgate-approval-webhook', APPROVAL_WEBHOOK_URL: 'https://chat.example/hook', BUNDLE_PORT: '9443',
    });
    const cfg = configFromEnv();
    expect(cfg.leaseNamespace).toBe('tg');
    expect(cfg.bundles.port).toBe(9443);
    expect(cfg.approvals).toEqual({ retentionMs: 60_000, namespaces: ['team-a', 'team-b'], webhook: { secret: { namespace: 'tg', name: 'toolgate-approval-webhook', key: 'url' } } });
    withEnv({ BUNDLE_ALLOW_INSECURE_HTTP: 'true', BUNDLE_PORT: 'eighty' });
    expect(configFromEnv).toThrow(/BUNDLE_PORT must be a non-negative integer, got "eighty"/);
  });
});
