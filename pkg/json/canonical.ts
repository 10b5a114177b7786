// Canonical JSON: object keys sorted by code point at every level, no whitespace. Two equal
// documents always serialize to the same bytes, so the bundle revision (a content hash) only
// changes when the meaning does.
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return write(value);
}

function write(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map(write).join(',')}]`;
      return `{${Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort(compareCodePoints)
        .map((k) => `${JSON.stringify(k)}:${write((value as Record<string, unknown>)[k])}`)
        .join(',')}}`;
    default:
      throw new TypeError(`canonicalJson: ${typeof value} has no JSON form`);
  }
}

/** Sorts by UTF-16 code units consistently, independent of locale. */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** sha256 of the canonical form, hex encoded. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
