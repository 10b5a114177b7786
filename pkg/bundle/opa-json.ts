// OPA's canonical JSON, the form it hashes structured bundle files in before comparing them
// with a bundle signature (v1/bundle/hash.go). OPA parses the file with Go's encoding/json
// (json.Number, so every number keeps its literal text), then writes it back compactly:
// object keys sorted by Go string order (UTF-8 bytes, which equals Unicode code point order),
// strings through a json.Encoder with SetEscapeHTML(false). Hashing any other way makes OPA
// refuse a correctly signed bundle with a "digest mismatch", so this module reproduces the
// Go behaviour byte for byte, and the real `opa sign` is the test oracle (opa-json.test.ts).

/** A parsed JSON value that remembers each number's literal text, as json.Number does. */
type Value =
  | { kind: 'object'; entries: Map<string, Value> }
  | { kind: 'array'; items: Value[] }
  | { kind: 'string'; value: string }
  | { kind: 'literal'; text: string };

// Deeper documents are refused rather than risking the JS stack; compiled data is a few levels.
const maxDepth = 1000;

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// A string token as JSON allows it: no raw control characters, only the defined escapes.
const stringPattern = /"(?:[\x20\x21\x23-\x5b\x5d-\uffff]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const literalPattern = /true|false|null/y;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

class Parser {
  private pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  parseDocument(): Value {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected data after the top-level value');
    return value;
  }

  private fail(what: string): never {
    throw new JsonSyntaxError(`invalid JSON at offset ${this.pos}: ${what}`);
  }

  private skipSpace(): void {
    // Exactly the four characters JSON (and Go) treat as whitespace.
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.pos;
    const m = pattern.exec(this.text);
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  private string(): string {
    const token = this.match(stringPattern);
    if (token === undefined) this.fail('expected a string');
    // Go replaces an unpaired surrogate escape (\ud800) with U+FFFD while decoding.
    return (JSON.parse(token) as string).toWellFormed();
  }

  private value(depth: number): Value {
    if (depth > maxDepth) this.fail(`nesting deeper than ${maxDepth}`);
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return { kind: 'string', value: this.string() };
    const literal = this.match(literalPattern) ?? this.match(numberPattern);
    if (literal === undefined) this.fail('expected a value');
    return { kind: 'literal', text: literal };
  }

  private object(depth: number): Value {
    this.pos++;
    // Later duplicates win, as they do when Go decodes into a map.
    const entries = new Map<string, Value>();
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.skipSpace();
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      entries.set(key, this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === '}') return { kind: 'object', entries };
      if (next !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): Value {
    this.pos++;
    const items: Value[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { kind: 'array', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === ']') return { kind: 'array', items };
      if (next !== ',') this.fail("expected ',' or ']'");
    }
  }
}

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

function write(v: Value, out: string[]): void {
  switch (v.kind) {
    case 'literal':
      out.push(v.text);
      return;
    case 'string':
      out.push(goJsonString(v.value));
      return;
    case 'array':
      out.push('[');
      v.items.forEach((item, i) => {
        if (i > 0) out.push(',');
        write(item, out);
      });
      out.push(']');
      return;
    case 'object': {
      out.push('{');
      [...v.entries.keys()].sort(compareGoStrings).forEach((key, i) => {
        if (i > 0) out.push(',');
        out.push(goJsonString(key), ':');
        write(v.entries.get(key) as Value, out);
      });
      out.push('}');
    }
  }
}

/**
 * The bytes OPA hashes for a structured bundle file. Refuses invalid UTF-8 (Go would
 * substitute U+FFFD) and YAML (OPA's fallback for data.yaml): toolgate never writes either.
 */
export function opaCanonicalJson(raw: Uint8Array | string): string {
  let text = typeof raw === 'string' ? raw : decodeUtf8(raw);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // OPA strips a UTF-8 BOM first
  return writeValue(new Parser(text).parseDocument());
}

function decodeUtf8(raw: Uint8Array): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new JsonSyntaxError('invalid JSON: the file is not valid UTF-8');
  }
}

function writeValue(v: Value): string {
  const out: string[] = [];
  write(v, out);
  return out.join('');
}

/**
 * Serializes a JavaScript value straight into OPA's canonical form, so a data.json written
 * this way hashes to the same digest raw or re-canonicalized. Numbers use JavaScript's
 * shortest round-trip form; non-finite numbers, functions and the like are refused.
 */
export function canonicalStringify(value: unknown): string {
  const out: string[] = [];
  const visit = (v: unknown, depth: number): void => {
    if (depth > maxDepth) throw new TypeError(`canonicalStringify: nesting deeper than ${maxDepth}`);
    if (v === null) {
      out.push('null');
      return;
    }
    switch (typeof v) {
      case 'boolean':
        out.push(v ? 'true' : 'false');
        return;
      case 'number':
        if (!Number.isFinite(v)) throw new TypeError(`canonicalStringify: ${v} has no JSON form`);
        out.push(JSON.stringify(v));
        return;
      case 'string':
        out.push(goJsonString(v));
        return;
      case 'object': {
        if (Array.isArray(v)) {
          out.push('[');
          v.forEach((item: unknown, i) => {
            if (i > 0) out.push(',');
            visit(item === undefined ? null : item, depth + 1);
          });
          out.push(']');
          return;
        }
        const proto: unknown = Object.getPrototypeOf(v);
        // A Date or Map would silently become {}: refuse anything that is not plain data.
        if (proto !== Object.prototype && proto !== null) throw new TypeError('canonicalStringify: only plain objects and arrays have a JSON form');
        const record = v as Record<string, unknown>;
        // Keys are normalized like values so two keys that collide in Go collide here too.
        const entries = new Map<string, unknown>();
        for (const key of Object.keys(record)) if (record[key] !== undefined) entries.set(key.toWellFormed(), record[key]);
        out.push('{');
        [...entries.keys()].sort(compareGoStrings).forEach((key, i) => {
          if (i > 0) out.push(',');
          out.push(goJsonString(key), ':');
          visit(entries.get(key), depth + 1);
        });
        out.push('}');
        return;
      }
      default:
        throw new TypeError(`canonicalStringify: a ${typeof v} has no JSON form`);
    }
  };
  visit(value, 0);
  return out.join('');
}
