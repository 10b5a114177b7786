// The audit sealing settings from the environment: each variable read, each bad value refused naming it.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { auditSealingFromEnv } from './checkpoint-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'toolgate-audit-env-'));
const names = ['AUDIT_SIGNING_KEY_FILE', 'AUDIT_SIGNING_KEY_ID', 'AUDIT_CHECKPOINT_EVERY', 'AUDIT_CHECKPOINT_INTERVAL', 'AUDIT_DIGEST_KEY_FILE', 'AUDIT_REDACT_DETECTORS', 'AUDIT_PERSONAL_FIELDS'];
afterEach(() => { for (const n of names) delete process.env[n]; });
const write = (name: string, content: string | Buffer) => { const p = join(dir, name); writeFileSync(p, content); return p; };

describe('auditSealingFromEnv', () => {
  it('defaults: no signer, 1000 records or 1 minute, no digest key, every detector', async () => {
    expect(await auditSealingFromEnv()).toEqual({ checkpointEvery: 1000, checkpointIntervalMs: 60_000, redaction: {} });
  });

  it('reads the signing key, its id, the cadence, the digest key, detectors and personal fields', async () => {
    process.env.AUDIT_SIGNING_KEY_FILE = write('ec.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    process.env.AUDIT_SIGNING_KEY_ID = 'audit-2026';
    process.env.AUDIT_CHECKPOINT_EVERY = '50';
    process.env.AUDIT_CHECKPOINT_INTERVAL = '15s';
    process.env.AUDIT_DIGEST_KEY_FILE = write('digest.key', Buffer.alloc(32, 1));
    process.env.AUDIT_REDACT_DETECTORS = 'email, payment-card';
    process.env.AUDIT_PERSONAL_FIELDS = 'patient.name,visits[*].notes';
    const s = await auditSealingFromEnv();
    expect(s).toMatchObject({ signer: { alg: 'ES256', keyId: 'audit-2026' }, checkpointEvery: 50, checkpointIntervalMs: 15_000, redaction: { detectors: ['email', 'payment-card'], personalFields: ['patient.name', 'visits[*].notes'] } });
    expect(s.digestKey?.length).toBe(32);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['an RSA signing key', { AUDIT_SIGNING_KEY_FILE: 'rsa' }, /AUDIT_SIGNING_KEY_FILE .*a rsa key; audit checkpoints are signed with EC P-256/],
    ['a missing key file', { AUDIT_SIGNING_KEY_FILE: '/nonexistent/key.pem' }, /AUDIT_SIGNING_KEY_FILE: cannot read \/nonexistent\/key\.pem/],
    ['zero records per checkpoint', { AUDIT_CHECKPOINT_EVERY: '0' }, /AUDIT_CHECKPOINT_EVERY must be at least 1/],
    ['a bad interval', { AUDIT_CHECKPOINT_INTERVAL: 'soon' }, /AUDIT_CHECKPOINT_INTERVAL/],
    ['a short digest key', { AUDIT_DIGEST_KEY_FILE: 'short' }, /AUDIT_DIGEST_KEY_FILE holds 5 bytes; at least 16/],
    ['an unknown detector', { AUDIT_REDACT_DETECTORS: 'email,dna' }, /AUDIT_REDACT_DETECTORS: unknown detector dna \(known: /],
    ['a bad field path', { AUDIT_PERSONAL_FIELDS: 'a..b' }, /AUDIT_PERSONAL_FIELDS: personal field "a\.\.b" is not a field path/],
  ])('refuses %s, naming the variable', async (_what, env, message) => {
    for (const [k, v] of Object.entries(env)) {
      process.env[k] = v === 'rsa' ? write('rsa.pem', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })) : v === 'short' ? write('short.key', 'short') : v;
    }
    await expect(auditSealingFromEnv()).rejects.toThrow(message);
  });
});
