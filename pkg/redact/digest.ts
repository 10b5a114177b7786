// The arguments digest of an audit record: a keyed HMAC, not a plain hash. A plain sha256 of
// `{"to":"alice@example.com"}` can be confirmed by anyone who guesses the value (arguments are
// low-entropy: e-mail addresses, ids, amounts); an HMAC under a key the reader of the trail does
// not hold cannot. Identical calls still correlate: the same key gives the same digest, across
// records, restarts and (with one key shared by the Secret) authorizer instances.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { canonicalArguments } from '../approvals/digest.ts';

export const hmacDigestPattern = '^hmac-sha256:[0-9a-f]{64}$';

/** "hmac-sha256:<hex>" over the canonical JSON of the unredacted arguments (the approval digest's bytes). */
export function argumentsHmac(key: Uint8Array, args: Record<string, unknown> | undefined): string {
  if (key.length < 16) throw new Error(`the audit digest key has ${key.length} bytes; at least 16 are needed`);
  return `hmac-sha256:${createHmac('sha256', keyObjectOf(key)).update(canonicalArguments(args)).digest('hex')}`;
}

/**
 * Each key imported once (importing the raw bytes on every record was ~4 % of an audited
 * Check), keyed by its buffer and checked against a copy of its bytes, so a key rewritten in
 * place is imported again rather than answered with the old one.
 */
const imported = new WeakMap<Uint8Array, { bytes: Buffer; key: KeyObject }>();
function keyObjectOf(key: Uint8Array): KeyObject {
  const known = imported.get(key);
  if (known && known.bytes.equals(key)) return known.key;
  const bytes = Buffer.from(key);
  const fresh = { bytes, key: createSecretKey(bytes) };
  imported.set(key, fresh);
  return fresh.key;
}
