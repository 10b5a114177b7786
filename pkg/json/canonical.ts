// Canonical JSON: RFC 8785 (JSON Canonicalization Scheme) for plain JavaScript values — no
// whitespace, object keys sorted by UTF-16 code unit (RFC 8785 section 3.2.3 sorts code units,
// not code points), strings and numbers as ECMAScript's JSON.stringify writes them. Equal data
// always gives the same text, so a content hash (bundle revision, approval digest, audit hash)
// moves only when the meaning does.
//
// One deliberate extension: a JsonNumber (a number the strict parser kept exactly as written,
// strict.ts) is written as its own text, not re-serialized. RFC 8785 would write 1.0, 1e0 and 1
// alike, and 1234567890123456789 as 1234567890123456800; an upstream server can tell those
// apart, so a digest that binds an approval to arguments must too. Plain JS numbers follow the
// RFC exactly; the test corpus checks this against the RFC author's implementation (npm
// `canonicalize`), which is not used here because it calls toJSON (a Date becomes a string),
// turns a Map into {} and undefined or a function in an array into null, names no path in its
// errors and cannot keep a number's text.
//
// Refused, with the JSON Pointer of the value: see write.ts (Date, Map, Set, BigInt, functions,
// NaN, Infinity, lone surrogates, cycles, undefined outside an object property). Any depth is
// fine: the walk keeps its own stack.
import { createHash } from 'node:crypto';
import { writeJson, type JsonStyle } from './write.ts';

const jcs: JsonStyle = { string: (s) => JSON.stringify(s) };

export function canonicalJson(value: unknown): string {
  return writeJson(value, jcs, 'canonicalJson');
}

/** RFC 8785 key order: by UTF-16 code unit, independent of locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** sha256 of the canonical form, hex encoded: the one content hash (revisions, approvals, audit). */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
