// OPA's canonical JSON, the form it hashes structured bundle files in before comparing them
// with a bundle signature (v1/bundle/hash.go). It is NOT RFC 8785 (pkg/json/canonical.ts), and
// cannot be: OPA parses the file with Go's encoding/json (json.Number, so every number keeps its
// literal text; later duplicate keys win; unpaired surrogate escapes become U+FFFD), then writes
// it back compactly with object keys sorted by Go string order (UTF-8 bytes, which equals
// Unicode code point order, where RFC 8785 sorts UTF-16 code units) and strings through a
// json.Encoder with SetEscapeHTML(false) (which escapes U+2028 and U+2029). Hashing any other
// way makes OPA refuse a correctly signed bundle with a "digest mismatch", so this module
// reproduces the Go behaviour byte for byte, and the real `opa sign` is the test oracle
// (opa-json.test.ts). The grammar and the value rules are shared with pkg/json: the same
// parser (with Go's rules for duplicates and surrogates) and the same writer (with Go's key
// order and string escapes).
import { decodeUtf8, parseJsonText, type ParserRules } from '../json/parser.ts';
import { writeJson, type JsonStyle } from '../json/write.ts';

// Go's decoder would go deeper (10000), but compiled data is a few levels and anything deeper is
// no bundle toolgate wrote.
const goDecoder: ParserRules = { maxDepth: 1000, maxBytes: Number.POSITIVE_INFINITY, duplicateKeys: 'last-wins', loneSurrogates: 'replace' };

/** Go's string order (bytewise UTF-8) without encoding: UTF-8 preserves code point order. */
export function compareGoStrings(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i) as number;
    const cb = b.codePointAt(j) as number;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return (a.length - i) - (b.length - j);
}

/**
 * A string as Go's json.Encoder writes it with SetEscapeHTML(false). That matches
 * JSON.stringify (short escapes for \b \f \n \r \t, lowercase \u00XX for other control
 * characters, DEL and all other non-ASCII literal) except that Go also escapes U+2028 and
 * U+2029 and has no unpaired surrogates (they became U+FFFD when decoded).
 */
export function goJsonString(s: string): string {
  return JSON.stringify(s.toWellFormed()).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

const goEncoder: JsonStyle = { compareKeys: compareGoStrings, string: goJsonString };

/**
 * The bytes OPA hashes for a structured bundle file. Refuses invalid UTF-8 (Go would
 * substitute U+FFFD) and YAML (OPA's fallback for data.yaml): toolgate never writes either.
 */
export function opaCanonicalJson(raw: Uint8Array | string): string {
  let text = typeof raw === 'string' ? raw : decodeUtf8(raw);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // OPA strips a UTF-8 BOM first
  return writeJson(parseJsonText(text, goDecoder), goEncoder, 'opaCanonicalJson');
}

/**
 * Serializes a JavaScript value straight into OPA's canonical form, so a data.json written
 * this way hashes to the same digest raw or re-canonicalized. Numbers use JavaScript's
 * shortest round-trip form; values without a JSON form (NaN, a Date, a lone surrogate, ...) are
 * refused naming their JSON Pointer, exactly as canonicalJson refuses them.
 */
export function canonicalStringify(value: unknown): string {
  return writeJson(value, goEncoder, 'canonicalStringify');
}
