// Strict JSON for untrusted bodies (MCP messages, tool arguments, audit lines read back).
//
// Why not JSON.parse: it keeps the LAST of two equal keys where other parsers keep the first
// ({"name":"get-env","name":"echo"} would be decided as echo and run as get-env upstream), it
// rounds 1234567890123456789 and reads 1.0 as 1 (so two bodies an upstream tells apart share a
// digest), and it accepts lone surrogates. Why not lossless-json: it also accepts a repeated key
// when both values are equal, recurses (a deep body overflows the stack before any bound is
// checked) and names no path.
//
// API
//   parseStrictJson(input, { maxDepth = 64, maxBytes = 1 MiB })  → JsonValue
//     input: a string or UTF-8 bytes. Refuses, with a JsonParseError whose `kind` says why,
//     `offset` the UTF-8 byte, `pointer` the JSON Pointer (RFC 6901) of the value, `key` the key:
//       invalid-json     not JSON (syntax), incl. a byte order mark or trailing data;
//       invalid-unicode  bytes that are not UTF-8, or a lone surrogate (\ud800 unpaired);
//       duplicate-key    an object holding a key twice, at any depth;
//       too-deep         containers nested deeper than maxDepth (the outermost is depth 1);
//       too-large        a text longer than maxBytes, refused before it is read.
//     Every kind is the sender's fault: a client error (HTTP 400; JSON-RPC -32700 when the
//     message itself is refused, -32602 when the refusal is inside the arguments, i.e. its
//     pointer starts with /params/arguments; depth counts from the top of the text, so to bound
//     arguments at 64 levels give maxDepth 64 + 2, the envelope's own levels above them), never
//     "policy unavailable". Nesting is read with an explicit stack: the
//     bound is checked, no RangeError happens first.
//   JsonValue: null | boolean | string | JsonNumber | JsonValue[] | JsonObject. A JsonNumber
//     holds the number's text exactly ("1.0", "1e2", "1234567890123456789"). A JsonObject is a
//     plain object; a "__proto__" key is an own property. Note that isObject() from
//     pkg/lang is true for a JsonNumber: test objects with isJsonObject.
//   toPlainJson(value, { inexactNumbers })  → plain JS value, for the policy engine
//     A number becomes a JS number when the double reads back as the same value (1.0 → 1,
//     0.1 → 0.1, 1e2 → 100). Any other (1234567890123456789, 1e400, 0.30000000000000001) is the
//     caller's choice: 'string' keeps its text as a string (so a policy sees "1234567890123456789",
//     not a rounded neighbour; a policy comparing it with a number must then handle a string),
//     'nearest' takes the nearest double as JSON.parse would (refusing ±Infinity, which has no
//     JSON form), 'refuse' throws a JsonValueError naming the pointer.
//   canonicalText(value) / digestOf(value)  → the lossless canonical form and its sha256 (hex)
//     RFC 8785 key order and string form, numbers exactly as written: 1 ≠ 1.0 ≠ 1e0,
//     1234567890123456789 ≠ 1234567890123456700, 1e2 ≠ 100, since an upstream can tell each pair
//     apart. parseStrictJson(canonicalText(v)) has the same canonical text as v. Two values
//     have the same digest iff they have the same canonical text. This is canonicalJson and
//     contentHash of pkg/json/canonical.ts, the one content hash.
import { canonicalJson, contentHash } from './canonical.ts';
import { JsonNumber } from './number.ts';
import { parseJsonText, type JsonObject, type JsonValue } from './parser.ts';
import { JsonValueError, jsonPointer, pointerText } from './write.ts';

export { JsonNumber } from './number.ts';
export { JsonParseError, type JsonErrorKind, type JsonObject, type JsonValue } from './parser.ts';
export { JsonValueError } from './write.ts';

export const defaultMaxDepth = 64;
export const defaultMaxBytes = 1024 * 1024;

export interface StrictJsonLimits {
  /** Most containers nested in one another (default 64); Infinity for text this process wrote. */
  maxDepth?: number;
  /** Largest UTF-8 text accepted (default 1 MiB). */
  maxBytes?: number;
}

export function parseStrictJson(input: string | Uint8Array, limits: StrictJsonLimits = {}): JsonValue {
  return parseJsonText(input, {
    maxDepth: limits.maxDepth ?? defaultMaxDepth,
    maxBytes: limits.maxBytes ?? defaultMaxBytes,
    duplicateKeys: 'refuse',
    loneSurrogates: 'refuse',
  });
}

/** A JSON object of a parsed value (not null, not an array, not a JsonNumber). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

export type InexactNumbers = 'string' | 'nearest' | 'refuse';

type Container = unknown[] | Record<string, unknown>;
interface Pending {
  from: JsonValue[] | JsonObject;
  to: Container;
  parent: Pending | undefined;
  segment: string;
}

function pointerOf(p: Pending | undefined, last: string): string {
  const segments = [last];
  for (let at = p; at?.parent; at = at.parent) segments.push(at.segment);
  return jsonPointer(segments.reverse());
}

/** The value with plain JS numbers, for code (the policy engine) that needs them; see the rule above. */
export function toPlainJson(value: JsonValue, options: { inexactNumbers: InexactNumbers }): unknown {
  const work: Pending[] = [];
  const convert = (v: JsonValue, parent: Pending | undefined, segment: string): unknown => {
    if (v instanceof JsonNumber) {
      const exact = v.toExactNumber();
      if (exact !== undefined) return exact;
      if (options.inexactNumbers === 'string') return v.text;
      const nearest = Number(v.text);
      if (options.inexactNumbers === 'nearest' && Number.isFinite(nearest)) return nearest;
      const pointer = parent ? pointerOf(parent, segment) : '';
      const why = Number.isFinite(nearest) ? `no double equals ${v.text}` : `${v.text} is beyond the range of a double`;
      throw new JsonValueError(`toPlainJson: ${why} at ${pointerText(pointer)}`, pointer);
    }
    if (v === null || typeof v !== 'object') return v;
    const to: Container = Array.isArray(v) ? [] : {};
    work.push({ from: v, to, parent, segment });
    return to;
  };
  const root = convert(value, undefined, '');
  while (work.length > 0) {
    const p = work.pop() as Pending;
    if (Array.isArray(p.from)) {
      const to = p.to as unknown[];
      p.from.forEach((item, i) => {
        to[i] = convert(item, p, String(i));
      });
      continue;
    }
    const to = p.to as Record<string, unknown>;
    for (const key of Object.keys(p.from)) {
      const v = convert(p.from[key] as JsonValue, p, key);
      if (key === '__proto__') Object.defineProperty(to, key, { value: v, enumerable: true, writable: true, configurable: true });
      else to[key] = v;
    }
  }
  return root;
}

/** The lossless canonical form of a parsed value (see the rule above). */
export function canonicalText(value: JsonValue): string {
  return canonicalJson(value);
}

/** sha256 (hex) of canonicalText: equal exactly when the canonical texts are equal. */
export function digestOf(value: JsonValue): string {
  return contentHash(value);
}
