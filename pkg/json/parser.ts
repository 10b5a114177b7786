// The JSON text parser behind strict.ts (untrusted bodies: strict rules) and opa-json.ts
// (reproducing Go's encoding/json for bundle signatures: later duplicates win, lone surrogates
// become U+FFFD). One parser, two rule sets, so the grammar is written once.
//
// It keeps its own stack instead of recursing, so depth is checked, never a RangeError; numbers
// stay JsonNumber (their text); objects are plain objects whose "__proto__" key, if any, is an
// own property (as JSON.parse makes it), never the prototype.
import { JsonNumber } from './number.ts';
import { jsonPointer, pointerText } from './write.ts';

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * Why a text was refused. All are the sender's fault: answer them as a client error (HTTP 400,
 * JSON-RPC -32700 for the message, -32602 for tool arguments), never as a server fault.
 */
export type JsonErrorKind = 'invalid-json' | 'invalid-unicode' | 'duplicate-key' | 'too-deep' | 'too-large';

export class JsonParseError extends Error {
  readonly kind: JsonErrorKind;
  /** Byte offset in the UTF-8 text where the problem was found. */
  readonly offset: number;
  /** JSON Pointer of the value being read (for duplicate-key: of the object holding the key). */
  readonly pointer: string;
  /** The repeated key, for duplicate-key. */
  readonly key: string | undefined;
  constructor(kind: JsonErrorKind, message: string, at: { offset: number; pointer: string; key?: string }) {
    super(message);
    this.name = 'JsonParseError';
    this.kind = kind;
    this.offset = at.offset;
    this.pointer = at.pointer;
    this.key = at.key;
  }
}

export interface ParserRules {
  /** Most containers nested in one another; the outermost object or array is depth 1. */
  maxDepth: number;
  /** Largest UTF-8 text accepted. */
  maxBytes: number;
  /** 'refuse' for untrusted input; 'last-wins' only to reproduce a decoder that does that. */
  duplicateKeys: 'refuse' | 'last-wins';
  /** 'refuse' for untrusted input; 'replace' (U+FFFD) only to reproduce a decoder that does that. */
  loneSurrogates: 'refuse' | 'replace';
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const numberToken = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const escapes = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);
// eslint-disable-next-line no-control-regex -- finding raw control characters is the point
const controlCharacter = /[\u0000-\u001f]/;

/** value() opened a container; its first member comes next. */
const opened = Symbol('opened');

/** A piece of the text for a message: quoted, escaped, and cut when long (a key may be a megabyte). */
const excerpt = (s: string): string => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);

type Frame = { kind: 'array'; value: JsonValue[] } | { kind: 'object'; value: JsonObject; key: string | undefined };

function setOwn(o: JsonObject, key: string, v: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
  else o[key] = v;
}

/** Offset of the first byte that is not part of well-formed UTF-8 (only called once decoding failed). */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i] as number;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return b.length;
}

export function decodeUtf8(input: Uint8Array): string {
  try {
    return utf8.decode(input);
  } catch {
    const at = firstInvalidUtf8(input);
    throw new JsonParseError('invalid-unicode', `invalid JSON: the text is not valid UTF-8 (byte ${at})`, { offset: at, pointer: '' });
  }
}

export function parseJsonText(input: string | Uint8Array, rules: ParserRules): JsonValue {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > rules.maxBytes) throw new JsonParseError('too-large', `JSON text of ${size} bytes is larger than the limit of ${rules.maxBytes}`, { offset: rules.maxBytes, pointer: '' });
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  return new Parser(text, rules).document();
}

class Parser {
  private pos = 0;
  private readonly text: string;
  private readonly rules: ParserRules;
  private readonly stack: Frame[] = [];

  constructor(text: string, rules: ParserRules) {
    this.text = text;
    this.rules = rules;
  }

  /** Pointer of the value being read: each open container's current member. */
  private pointer(frames = this.stack): string {
    const segments: string[] = [];
    for (const f of frames) {
      if (f.kind === 'array') segments.push(String(f.value.length));
      else if (f.key !== undefined) segments.push(f.key);
    }
    return jsonPointer(segments);
  }

  private byteOffset(at: number): number {
    return Buffer.byteLength(this.text.slice(0, at), 'utf8');
  }

  private fail(kind: JsonErrorKind, what: string, at = this.pos, extra: { pointer?: string; key?: string } = {}): never {
    const offset = this.byteOffset(at);
    const pointer = extra.pointer ?? this.pointer();
    const where = kind === 'invalid-json' || kind === 'invalid-unicode' ? 'invalid JSON' : 'JSON refused';
    throw new JsonParseError(kind, `${where} at byte ${offset} (${pointerText(pointer)}): ${what}`, { offset, pointer, ...(extra.key !== undefined ? { key: extra.key } : {}) });
  }

  private skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private expected(what: string): never {
    const c = this.text.codePointAt(this.pos);
    return this.fail('invalid-json', `expected ${what}, found ${c === undefined ? 'the end of the text' : excerpt(String.fromCodePoint(c))}`);
  }

  document(): JsonValue {
    this.skipSpace();
    let v = this.value();
    for (;;) {
      if (v === opened) {
        v = this.value();
        continue;
      }
      const parent = this.stack[this.stack.length - 1];
      if (!parent) break;
      if (parent.kind === 'array') parent.value.push(v);
      else setOwn(parent.value, parent.key as string, v);
      const top = parent;
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        this.skipSpace();
        if (top.kind === 'object') this.key(top);
        v = this.value();
        continue;
      }
      if ((top.kind === 'array' && c === ']') || (top.kind === 'object' && c === '}')) {
        this.pos++;
        this.stack.pop();
        v = top.value;
        continue;
      }
      this.expected(top.kind === 'array' ? "',' or ']'" : "',' or '}'");
    }
    this.skipSpace();
    if (this.pos !== this.text.length) this.expected('the end of the text after the top-level value');
    return v;
  }

  /** Reads a scalar or an empty container and returns it, or opens a container. Never recurses. */
  private value(): JsonValue | typeof opened {
    const t = this.text;
    const c = t[this.pos];
    if (c === '{' || c === '[') {
      if (this.stack.length >= this.rules.maxDepth) this.fail('too-deep', `nesting deeper than ${this.rules.maxDepth} levels`);
      this.pos++;
      this.skipSpace();
      if (c === '[') {
        const value: JsonValue[] = [];
        if (t[this.pos] === ']') {
          this.pos++;
          return value;
        }
        this.stack.push({ kind: 'array', value });
        return opened;
      }
      const value: JsonObject = {};
      if (t[this.pos] === '}') {
        this.pos++;
        return value;
      }
      const frame: Frame = { kind: 'object', value, key: undefined };
      this.stack.push(frame);
      this.key(frame);
      return opened;
    }
    if (c === '"') return this.string();
    if (c === 't' && t.startsWith('true', this.pos)) return this.literal(4, true);
    if (c === 'f' && t.startsWith('false', this.pos)) return this.literal(5, false);
    if (c === 'n' && t.startsWith('null', this.pos)) return this.literal(4, null);
    numberToken.lastIndex = this.pos;
    const m = numberToken.exec(t);
    if (!m) return this.expected('a value');
    const start = this.pos;
    this.pos += m[0].length;
    const next = t.charCodeAt(this.pos);
    // 01, 1., 1e, 1.5.2: the token stopped short of text that cannot follow a number.
    if ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45 || next === 0x2b || next === 0x2d) {
      this.fail('invalid-json', `invalid number ${excerpt(t.slice(start, this.pos + 1))}`, start);
    }
    return JsonNumber.ofToken(m[0]);
  }

  private literal<T extends JsonValue>(length: number, v: T): T {
    this.pos += length;
    return v;
  }

  /** Reads `"key" :` into the frame, refusing a key the object already has (strict rules). */
  private key(frame: Frame & { kind: 'object' }): void {
    frame.key = undefined;
    if (this.text[this.pos] !== '"') this.expected('a string key');
    const at = this.pos;
    const key = this.string();
    if (Object.hasOwn(frame.value, key) && this.rules.duplicateKeys === 'refuse') {
      this.fail('duplicate-key', `duplicate key ${excerpt(key)} (a JSON object may hold each key once)`, at, { key });
    }
    frame.key = key;
    this.skipSpace();
    if (this.text[this.pos] !== ':') this.expected("':'");
    this.pos++;
    this.skipSpace();
  }

  private string(): string {
    const t = this.text;
    const start = this.pos;
    let i = start + 1;
    let out = '';
    // Jumps from one backslash to the next up to the closing quote: long strings cost native
    // searches, not a JS step per character, and no search looks past the string.
    let quote = -1;
    for (;;) {
      if (quote < i) quote = t.indexOf('"', i); // again only after an escaped quote
      if (quote < 0) this.fail('invalid-json', 'unterminated string', start);
      const segment = t.slice(i, quote);
      const slash = segment.indexOf('\\');
      const run = slash < 0 ? segment : segment.slice(0, slash);
      const control = controlCharacter.exec(run);
      if (control) this.fail('invalid-json', `unescaped control character U+${run.charCodeAt(control.index).toString(16).padStart(4, '0')} in a string`, i + control.index);
      out += run;
      i += run.length;
      if (slash < 0) break;
      const e = t[i + 1] ?? '';
      if (e === 'u') {
        const hex = t.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid-json', `invalid escape ${excerpt(t.slice(i, i + 6))}`, i);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else {
        const decoded = escapes.get(e);
        if (decoded === undefined) this.fail('invalid-json', `invalid escape ${excerpt(t.slice(i, i + 2))}`, i);
        out += decoded;
        i += 2;
      }
    }
    this.pos = i + 1;
    if (out.isWellFormed()) return out;
    if (this.rules.loneSurrogates === 'replace') return out.toWellFormed();
    return this.fail('invalid-unicode', 'a string holds a lone surrogate (e.g. an unpaired \\ud800), which is not Unicode text', start);
  }
}
