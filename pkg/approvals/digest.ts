// What an approval binds: the digest of the call's arguments. The authorizer computes it when it
// holds a call and again when it releases one; `kubectl mcp show` recomputes it over the full
// arguments stored beside the request. All three go through canonicalArguments, so switching the
// canonical form (for example to a lossless one) is a change to that one function.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../json/canonical.ts';

/** The arguments as the canonical JSON text whose bytes the digest covers. */
export function canonicalArguments(args: Record<string, unknown> | undefined): string {
  return canonicalJson(args ?? {});
}

/** "sha256:<hex>" of canonical JSON text (as stored in the arguments Secret). */
export function digestOfCanonical(text: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** "sha256:<hex>" over the canonical JSON of the unredacted arguments: what an approval binds. */
export function argumentsDigest(args: Record<string, unknown> | undefined): string {
  return digestOfCanonical(canonicalArguments(args));
}
