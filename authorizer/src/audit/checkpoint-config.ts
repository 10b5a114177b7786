// The audit trail's sealing, digest and redaction settings from the environment (the lead wires
// the result into AuditTrail.open in authorizer/src/authorizer.ts, beside AUDIT_FILE):
//   AUDIT_SIGNING_KEY_FILE     PKCS#8 PEM, EC P-256 or Ed25519, from a Secret mounted into the
//                              authorizer only; without it the chain is not sealed (a warning)
//   AUDIT_SIGNING_KEY_ID       key id in each checkpoint (default: RFC 7638 thumbprint)
//   AUDIT_CHECKPOINT_EVERY     records between checkpoints (default 1000)
//   AUDIT_CHECKPOINT_INTERVAL  checkpoint at least this often while records arrive (default 1m)
//   AUDIT_DIGEST_KEY_FILE      key of the arguments HMAC, at least 16 bytes, the same for every
//                              replica (without it digests correlate within one process only)
//   AUDIT_REDACT_DETECTORS     comma-separated detectors (default: all of pkg/redact)
//   AUDIT_PERSONAL_FIELDS      comma-separated argument field paths recorded as personal
// Every error names the variable and what it expects; nothing is half-configured.
import { ConfigError, fileBytes, int, list, optional } from '../../../pkg/env/env.ts';
import { parseDuration } from '../../../pkg/duration.ts';
import { detectorNames, type DetectorName } from '../../../pkg/redact/detectors.ts';
import { fieldPathRegex } from '../../../pkg/redact/redact.ts';
import { signerFromPem } from './checkpoint.ts';
import type { AuditTrailOptions } from './trail.ts';

export type AuditSealing = Pick<AuditTrailOptions, 'signer' | 'checkpointEvery' | 'checkpointIntervalMs' | 'digestKey' | 'redaction'>;

export async function auditSealingFromEnv(): Promise<AuditSealing> {
  const pem = fileBytes('AUDIT_SIGNING_KEY_FILE');
  let signer: AuditSealing['signer'];
  if (pem) {
    try {
      signer = await signerFromPem(pem.toString('utf8'), `AUDIT_SIGNING_KEY_FILE ${optional('AUDIT_SIGNING_KEY_FILE')}`, optional('AUDIT_SIGNING_KEY_ID'));
    } catch (err) {
      throw new ConfigError((err as Error).message, { cause: err });
    }
  }
  const every = int('AUDIT_CHECKPOINT_EVERY', 1000);
  if (every < 1) throw new ConfigError('AUDIT_CHECKPOINT_EVERY must be at least 1');
  const interval = optional('AUDIT_CHECKPOINT_INTERVAL');
  let intervalMs = 60_000;
  if (interval !== undefined) {
    try {
      intervalMs = parseDuration(interval, 'AUDIT_CHECKPOINT_INTERVAL');
    } catch (err) {
      throw new ConfigError((err as Error).message, { cause: err });
    }
  }
  const digestKey = fileBytes('AUDIT_DIGEST_KEY_FILE');
  if (digestKey && digestKey.length < 16) throw new ConfigError(`AUDIT_DIGEST_KEY_FILE holds ${digestKey.length} bytes; at least 16 are needed`);
  const detectors = list('AUDIT_REDACT_DETECTORS');
  const unknown = detectors.filter((d) => !(detectorNames as readonly string[]).includes(d));
  if (unknown.length > 0) throw new ConfigError(`AUDIT_REDACT_DETECTORS: unknown detector${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${detectorNames.join(', ')})`);
  const personalFields = list('AUDIT_PERSONAL_FIELDS');
  for (const f of personalFields) {
    try {
      fieldPathRegex(f);
    } catch (err) {
      throw new ConfigError(`AUDIT_PERSONAL_FIELDS: ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    ...(signer ? { signer } : {}),
    checkpointEvery: every,
    checkpointIntervalMs: intervalMs,
    ...(digestKey ? { digestKey } : {}),
    redaction: { ...(detectors.length > 0 ? { detectors: detectors as DetectorName[] } : {}), ...(personalFields.length > 0 ? { personalFields } : {}) },
  };
}
