// The one walk that turns a JavaScript value into compact JSON with sorted keys, shared by
// RFC 8785 canonical JSON (canonical.ts) and OPA's Go-style form (pkg/bundle/opa-json.ts), so
// both refuse the same values the same way:
//   - only null, booleans, finite numbers, well-formed strings, JsonNumber, arrays and plain
//     objects (prototype Object.prototype or null) have a JSON form. A Date, Map, Set, Buffer,
//     class instance, BigInt, function, symbol, NaN, Infinity, a lone surrogate or a cycle is
//     an error naming the JSON Pointer of the value: each would otherwise turn silently into
//     {}, null or a string, and two different values would hash alike;
//   - undefined as an object property means "absent" and is left out (optional fields);
//     undefined anywhere else (an array element, the whole value) is an error;
//   - a JsonNumber is written as its own text, which keeps 1.0 apart from 1.
// The walk keeps its own stack, so depth is bounded by memory, not by the JS call stack.
import { JsonNumber } from './number.ts';

export interface JsonStyle {
  /** Orders object keys; the default is Array.prototype.sort's UTF-16 code-unit order. */
  compareKeys?: (a: string, b: string) => number;
  /** Writes a (well-formed) string, quotes included. */
  string: (s: string) => string;
}

/** A value without a JSON form, with the JSON Pointer (RFC 6901) of where it sits. */
export class JsonValueError extends TypeError {
  readonly pointer: string;
  constructor(message: string, pointer: string) {
    super(message);
    this.name = 'JsonValueError';
    this.pointer = pointer;
  }
}

/** A JSON Pointer from its unescaped segments. */
export function jsonPointer(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * A pointer for messages: "the top level" for the whole value; control characters and lone
 * surrogates escaped (messages reach logs); a very deep one cut in the middle (the error's
 * `pointer` field keeps it whole).
 */
export function pointerText(pointer: string): string {
  if (pointer === '') return 'the top level';
  let text = '';
  for (const ch of pointer) {
    const c = ch.codePointAt(0) as number;
    text += c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff) ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
  }
  return text.length > 200 ? `${text.slice(0, 120)}…${text.slice(-60)}` : text;
}

type Frame =
  | { kind: 'array'; items: readonly unknown[]; index: number; container: object }
  | { kind: 'object'; record: Record<string, unknown>; keys: string[]; index: number; wrote: boolean; container: object };

const isPlainObject = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

function typeName(v: object): string {
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null;
  const name = proto?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}

/** Compact JSON of `value` in the given style; throws JsonValueError (prefixed by `who`) for values without a JSON form. */
export function writeJson(value: unknown, style: JsonStyle, who: string): string {
  const stack: Frame[] = [];
  const path: string[] = [];
  const onPath = new Set<object>();
  let out = '';

  // Pointers are built only on failure: copying the path per value would be quadratic in depth.
  type At = string | number | undefined;
  const fail = (what: string, at?: At, key?: string): never => {
    const pointer = jsonPointer([...path, ...[at, key].filter((s) => s !== undefined).map(String)]);
    throw new JsonValueError(`${who}: ${what} at ${pointerText(pointer)}`, pointer);
  };
  const str = (s: string, at: At): string => {
    if (!s.isWellFormed()) fail('a string with a lone surrogate (not Unicode text) has no JSON form', at);
    return style.string(s);
  };

  /** Writes a scalar, or opens a container and pushes its frame; `at` is v's segment under `path`. */
  const emit = (v: unknown, at?: At): void => {
    if (v === null) {
      out += 'null';
      return;
    }
    switch (typeof v) {
      case 'boolean':
        out += v ? 'true' : 'false';
        return;
      case 'number':
        if (!Number.isFinite(v)) fail(`${v} has no JSON form`, at);
        out += JSON.stringify(v); // ECMAScript Number::toString, as RFC 8785 section 3.2.2.3 requires
        return;
      case 'string':
        out += str(v, at);
        return;
      case 'object':
        break;
      case 'undefined':
        return fail('undefined has no JSON form (only an object property may be undefined, meaning absent)', at);
      default:
        return fail(`a ${typeof v} has no JSON form`, at);
    }
    if (v instanceof JsonNumber) {
      out += v.text;
      return;
    }
    if (onPath.has(v)) fail('a cycle (the value contains itself)', at);
    if (Array.isArray(v)) {
      onPath.add(v);
      stack.push({ kind: 'array', items: v, index: 0, container: v });
      out += '[';
      return;
    }
    if (!isPlainObject(v)) fail(`a ${typeName(v)} has no JSON form (convert it to plain data first)`, at);
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record);
    for (const k of keys) if (!k.isWellFormed()) fail('a key with a lone surrogate (not Unicode text) has no JSON form', at, k);
    keys.sort(style.compareKeys);
    onPath.add(v);
    stack.push({ kind: 'object', record, keys, index: 0, wrote: false, container: v });
    out += '{';
  };

  emit(value);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    if (frame.kind === 'array') {
      if (frame.index < frame.items.length) {
        const i = frame.index++;
        if (i > 0) out += ',';
        const before = stack.length;
        emit(frame.items[i], i);
        if (stack.length > before) path.push(String(i));
        continue;
      }
      out += ']';
    } else {
      let descended = false;
      while (frame.index < frame.keys.length) {
        const key = frame.keys[frame.index++] as string;
        const v = frame.record[key];
        if (v === undefined) continue;
        out += `${frame.wrote ? ',' : ''}${str(key, key)}:`;
        frame.wrote = true;
        const before = stack.length;
        emit(v, key);
        if (stack.length > before) {
          path.push(key);
          descended = true;
          break;
        }
      }
      if (descended) continue;
      out += '}';
    }
    onPath.delete(frame.container);
    stack.pop();
    path.pop();
  }
  return out;
}
