// The caller's stated purpose (GDPR purpose limitation, compliance row A13): a tools/call may
// carry it as params._meta["toolgate.io/purpose"]. The gate copies it to ToolCall.purpose (one
// place for both front ends) and the decision record keeps it, redacted. A value that is there
// but is not a usable purpose is refused rather than dropped: an audit record that silently
// lacks the purpose the caller thought it stated would be worse than a clear error.
import { isJsonObject } from '../../../pkg/json/strict.ts';
import { purposeMetaKey } from './record.ts';

/** Longest purpose accepted, in characters. */
export const maxPurposeChars = 512;

/** The purpose a request's params state: absent, the string, or what is wrong with it. */
export function statedPurpose(params: Record<string, unknown>): { purpose?: string } | { error: string } {
  const meta = params._meta;
  if (meta === undefined || !isJsonObject(meta) || !Object.hasOwn(meta, purposeMetaKey)) return {};
  const v = (meta as Record<string, unknown>)[purposeMetaKey];
  const where = `params._meta["${purposeMetaKey}"]`;
  if (typeof v !== 'string') return { error: `${where} must be a string (the purpose of this call), got ${v === null ? 'null' : typeof v}` };
  if (v.trim() === '') return { error: `${where} must not be empty: state the purpose of this call, or leave the key out` };
  if (v.length > maxPurposeChars) return { error: `${where} is ${v.length} characters; at most ${maxPurposeChars} are accepted` };
  return { purpose: v };
}
