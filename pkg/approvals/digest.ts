// What an approval binds: the digest of the call's arguments. The authorizer computes it when it
// holds a call and again when it releases one; `kubectl mcp show` recomputes it over the full
// arguments stored beside the request. All three go through canonicalArguments.
//
// The form is the lossless canonical text (pkg/json/strict.ts canonicalText): RFC 8785 key
// order, numbers exactly as the client wrote them. The gate parses bodies losslessly, so
// {"a":1234567890123456789} and {"a":1234567890123456700}, or 1 and 1.0, have different digests
// and an approval for one never releases the other (an upstream can tell each pair apart).
import { createHash } from 'node:crypto';
import { canonicalText, type JsonValue } from '../json/strict.ts';

/** The arguments as the canonical JSON text whose bytes the digest covers. */
export function canonicalArguments(args: Record<string, unknown> | undefined): string {
  return canonicalText((args ?? {}) as JsonValue);
}

/** "sha256:<hex>" of canonical JSON text (as stored in the arguments Secret). */
export function digestOfCanonical(text: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** "sha256:<hex>" over the canonical JSON of the unredacted arguments: what an approval binds. */
export function argumentsDigest(args: Record<string, unknown> | undefined): string {
  return digestOfCanonical(canonicalArguments(args));
}
