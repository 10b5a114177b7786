import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalText, digestOf, isJsonObject, JsonNumber, JsonParseError, JsonValueError, parseStrictJson, toPlainJson, type JsonErrorKind, type JsonValue } from './strict.ts';
import { jsonPointer } from './write.ts';
import { nested, objectsOf, pick, randomNode, randomString, render, respell, rng, type Node } from '../../test/support/json-corpus.ts';

function refusal(text: string | Uint8Array, limits?: Parameters<typeof parseStrictJson>[1]): JsonParseError {
  try {
    parseStrictJson(text, limits);
  } catch (err) {
    if (err instanceof JsonParseError) return err;
    throw new Error(`not a JsonParseError: ${String(err)}`, { cause: err });
  }
  throw new Error(`accepted: ${typeof text === 'string' ? text.slice(0, 80) : 'bytes'}`);
}

const plain = (v: JsonValue) => toPlainJson(v, { inexactNumbers: 'nearest' });

describe('parseStrictJson', () => {
  it('keeps every number as written and objects as plain objects', () => {
    const v = parseStrictJson('{"a":1.0,"b":[1234567890123456789,1e2,-0],"__proto__":{"x":true}}');
    expect(canonicalText(v)).toBe('{"__proto__":{"x":true},"a":1.0,"b":[1234567890123456789,1e2,-0]}');
    expect(isJsonObject(v)).toBe(true);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.hasOwn(v as object, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined(); // nothing leaked into Object.prototype
    expect(isJsonObject((v as { a: JsonValue }).a)).toBe(false);
  });

  it.each<[string, string, JsonErrorKind, string]>([
    ['a repeated key', '{"name":"get-env","name":"echo"}', 'duplicate-key', ''],
    ['a repeated key spelled with an escape', '{"a":{"name":1,"\\u006eame":1}}', 'duplicate-key', '/a'],
    ['a repeated key with equal values', '[0,{"k":[1],"k":[1]}]', 'duplicate-key', '/1'],
    ['a lone high surrogate', '{"a":["\\ud800"]}', 'invalid-unicode', '/a/0'],
    ['a lone low surrogate in a key', '{"\\udc00x":1}', 'invalid-unicode', ''],
    ['a reversed pair', '"\\ude00\\ud83d"', 'invalid-unicode', ''],
    ['a byte order mark', '\ufeff{}', 'invalid-json', ''],
    ['a leading zero', '{"a":01}', 'invalid-json', '/a'],
    ['a trailing comma', '{"a":[1,]}', 'invalid-json', '/a/1'],
    ['single quotes', "{'a':1}", 'invalid-json', ''],
    ['a raw newline in a string', '["a\nb"]', 'invalid-json', '/0'],
    ['NaN', '[NaN]', 'invalid-json', '/0'],
    ['trailing data', '{} {}', 'invalid-json', ''],
    ['nothing', '', 'invalid-json', ''],
    ['an unknown escape', '"\\x41"', 'invalid-json', ''],
    ['a short \\u escape', '"\\u12"', 'invalid-json', ''],
    ['a bare minus', '[-]', 'invalid-json', '/0'],
    ['a fraction without digits', '[1.]', 'invalid-json', '/0'],
    ['an exponent without digits', '[1e]', 'invalid-json', '/0'],
  ])('refuses %s', (_name, text, kind, pointer) => {
    const err = refusal(text);
    expect(err.kind).toBe(kind);
    expect(err.pointer).toBe(pointer);
    expect(err.message).toMatch(/^(invalid JSON|JSON refused) at byte \d+ /);
  });

  // Node 24.21's JSON.parse (V8 13.6), once it has read a key ending in "\\", reads a later key
  // with the same start and an escaped last character ("\u0041", "\n") as that earlier key.
  it('reads keys ending in an escape as written, where node 24.21\'s JSON.parse misreads them', () => {
    expect(Object.keys(parseStrictJson('{"\\\\":1}') as object)).toEqual(['\\']);
    expect(Object.keys(parseStrictJson('{"\\u0041":1,"\\n":2,"\\"":3}') as object)).toEqual(['A', '\n', '"']);
    // After JSON.parse has read the first text, that node reads the second as {"name":"echo",
    // "nam\\":"get-env"}: no duplicate, decided as echo, run as get-env by a last-wins upstream.
    JSON.parse('{"name":"x","nam\\\\":"y"}');
    expect(parseStrictJson('{"name":"x","nam\\\\":"y"}')).toEqual({ name: 'x', 'nam\\': 'y' });
    expect(refusal('{"name":"echo","nam\\u0065":"get-env"}')).toMatchObject({ kind: 'duplicate-key', key: 'name' });
  });

  it('names the duplicate key, its byte offset and the object holding it', () => {
    const text = '{"params":{"arguments":{"é":1,"é":2}}}';
    const err = refusal(text);
    expect(err).toMatchObject({ kind: 'duplicate-key', key: 'é', pointer: '/params/arguments' });
    expect(err.offset).toBe(Buffer.byteLength(text.slice(0, text.lastIndexOf('"é"'))));
    expect(err.message).toContain('duplicate key "é"');
  });

  it('refuses invalid UTF-8 bytes, naming the first bad byte', () => {
    const bad: Array<[number[], number]> = [
      [[0x22, 0xff, 0x22], 1],
      [[0x22, 0x61, 0xc3, 0x28, 0x22], 2], // a lead byte without its continuation
      [[0x22, 0xed, 0xa0, 0x80, 0x22], 1], // an encoded surrogate (CESU-8)
      [[0x22, 0xc0, 0xaf, 0x22], 1], // an overlong '/'
      [[0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], 1], // past U+10FFFF
      [[0x22, 0xe2, 0x82], 1], // cut mid-character
    ];
    for (const [bytes, at] of bad) {
      const err = refusal(new Uint8Array(bytes));
      expect(err.kind, bytes.join(' ')).toBe('invalid-unicode');
      expect(err.offset, bytes.join(' ')).toBe(at);
    }
    expect(canonicalText(parseStrictJson(Buffer.from('{"é":"\u{1F600}"}')))).toBe('{"é":"😀"}');
  });

  it('bounds depth (outermost container is depth 1) and size before reading', () => {
    expect(() => parseStrictJson(nested(64, rng(1)).text)).not.toThrow();
    const deep = nested(65, rng(1));
    const err = refusal(deep.text);
    expect(err.kind).toBe('too-deep');
    expect(err.pointer).toBe(jsonPointer(deep.pointerSegments(64)));
    expect(refusal('{"a":[[1]]}', { maxDepth: 2 })).toMatchObject({ kind: 'too-deep', pointer: '/a/0' });
    const big = `[${'1,'.repeat(600_000)}1]`;
    expect(refusal(big)).toMatchObject({ kind: 'too-large' });
    expect(refusal('"ééé"', { maxBytes: 7 })).toMatchObject({ kind: 'too-large' }); // 8 bytes in UTF-8
    expect(parseStrictJson('"ééé"', { maxBytes: 8 })).toBe('ééé');
  });

  it('reads 100 000 levels without touching the JS stack, and refuses them by default', () => {
    {
      const { text, pointerSegments } = nested(100_000, rng(1));
      const err = refusal(text);
      expect(err.kind).toBe('too-deep');
      expect(err.pointer).toBe(jsonPointer(pointerSegments(64)));
      const v = parseStrictJson(text, { maxDepth: Infinity, maxBytes: Infinity });
      const canonical = canonicalText(v);
      expect(canonical).toBe(text); // nested() writes canonical text
      expect(canonicalText(parseStrictJson(canonical, { maxDepth: Infinity, maxBytes: Infinity }))).toBe(canonical);
      expect(canonicalText(toPlainJson(v, { inexactNumbers: 'refuse' }) as JsonValue)).toBe(text);
    }
  }, 60_000);
});

describe('JsonNumber and toPlainJson', () => {
  it.each([
    ['1', 1], ['1.0', 1], ['-0', -0], ['0.1', 0.1], ['1e2', 100], ['1E+2', 100], ['1.50', 1.5], ['9007199254740992', 2 ** 53],
    ['1e21', 1e21], ['5e-324', 5e-324], ['1.7976931348623157e308', Number.MAX_VALUE],
  ])('%s is exactly %d', (text, n) => {
    expect(Object.is(new JsonNumber(text).toExactNumber(), n)).toBe(true);
  });

  it.each(['9007199254740993', '1234567890123456789', '0.30000000000000001', '1e400', '-1e400', '1e-400', '3.141592653589793238', '1.00000000000000000000001'])('%s has no exact double', (text) => {
    expect(new JsonNumber(text).toExactNumber()).toBeUndefined();
  });

  it('refuses text that is not a JSON number', () => {
    for (const bad of ['', '01', '1.', '+1', '.5', 'NaN', '1e', '0x10', ' 1']) expect(() => new JsonNumber(bad), bad).toThrow(/not a JSON number/);
  });

  it('leaves the rule for inexact numbers to the caller', () => {
    const v = parseStrictJson('{"n":[1.0,1234567890123456789,1e400]}');
    expect(toPlainJson(v, { inexactNumbers: 'string' })).toEqual({ n: [1, '1234567890123456789', '1e400'] });
    expect(() => toPlainJson(v, { inexactNumbers: 'nearest' })).toThrow(new JsonValueError('toPlainJson: 1e400 is beyond the range of a double at /n/2', '/n/2'));
    expect(toPlainJson(parseStrictJson('[1234567890123456789]'), { inexactNumbers: 'nearest' })).toEqual([1234567890123456800]);
    expect(() => toPlainJson(v, { inexactNumbers: 'refuse' })).toThrow('no double equals 1234567890123456789 at /n/1');
    const proto = toPlainJson(parseStrictJson('{"__proto__":{"polluted":1}}'), { inexactNumbers: 'refuse' }) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });
});

describe('canonical form and digest', () => {
  it.each([
    ['1', '1.0'], ['1234567890123456789', '1234567890123456700'], ['1e2', '100'], ['1e2', '1E2'], ['0', '-0'], ['0.1', '0.10'],
  ])('tells %s from %s', (a, b) => {
    const [x, y] = [parseStrictJson(`{"a":${a}}`), parseStrictJson(`{"a":${b}}`)];
    expect(canonicalText(x)).not.toBe(canonicalText(y));
    expect(digestOf(x)).not.toBe(digestOf(y));
  });

  it('ignores whitespace, key order and string spelling', () => {
    const a = parseStrictJson('{ "b" : [ 1.0 , "\\u00e9" ] , "a" : null }');
    const b = parseStrictJson('{"a":null,"b":[1.0,"é"]}');
    expect(canonicalText(a)).toBe('{"a":null,"b":[1.0,"é"]}');
    expect(digestOf(a)).toBe(digestOf(b));
    expect(digestOf(a)).toMatch(/^[0-9a-f]{64}$/);
  });
});

// ---- Generated corpus ----

/** The value with the nearest doubles, as JSON.parse gives it; undefined when a number overflows (JSON.parse gives Infinity). */
function nearest(v: JsonValue): unknown {
  try {
    return plain(v);
  } catch (err) {
    expect((err as Error).message).toMatch(/beyond the range of a double/);
    return undefined;
  }
}

describe('generated corpus', () => {
  it('parses 4000 random documents like JSON.parse, keeping numbers, with a stable canonical form and digest', () => {
    const r = rng(20260101);
    const digests = new Map<string, string>();
    const texts = new Map<string, string>();
    let checkedOracle = 0;
    for (let i = 0; i < 4000; i++) {
      const text = render(randomNode(r), r);
      const v = parseStrictJson(text, { maxDepth: 16 });
      const p = nearest(v);
      if (p !== undefined) {
        expect(p, text).toEqual(JSON.parse(text));
        // Plain numbers are written exactly as the RFC 8785 author's implementation writes them.
        expect(canonicalText(p as JsonValue), text).toBe(canonicalize(p));
        checkedOracle++;
      }
      const canonical = canonicalText(v);
      const again = parseStrictJson(canonical, { maxDepth: 16 });
      expect(canonicalText(again), text).toBe(canonical);
      const digest = digestOf(v);
      expect(digestOf(again)).toBe(digest);
      // digest equal iff canonical text equal, over the whole corpus
      if (digests.has(canonical)) expect(digests.get(canonical)).toBe(digest);
      if (texts.has(digest)) expect(texts.get(digest)).toBe(canonical);
      digests.set(canonical, digest);
      texts.set(digest, canonical);
    }
    expect(checkedOracle).toBeGreaterThan(2000);
    expect(texts.size).toBeGreaterThan(2500);
  }, 60_000);

  it('gives 1000 documents that differ only in how one number is written different digests (JSON.parse gives them equal values)', () => {
    const r = rng(1000);
    let pairs = 0;
    while (pairs < 1000) {
      const root = randomNode(r, 0, 5);
      const numbers: Array<Node & { t: 'num' }> = [];
      const work: Node[] = [root];
      while (work.length > 0) {
        const n = work.pop() as Node;
        if (n.t === 'num') numbers.push(n);
        else if (n.t === 'arr') work.push(...n.items);
        else if (n.t === 'obj') work.push(...n.entries.map(([, v]) => v));
      }
      if (numbers.length === 0) continue;
      const target = pick(r, numbers);
      const original = target.text;
      const a = parseStrictJson(render(root, r));
      // The same value spelled another way: e ↔ E, or one more trailing zero.
      target.text = /e/.test(original) ? original.replace('e', 'E') : /E/.test(original) ? original.replace('E', 'e') : original.includes('.') ? `${original}0` : `${original}.0`;
      const b = parseStrictJson(render(root, r));
      expect(canonicalText(a)).not.toBe(canonicalText(b));
      expect(digestOf(a)).not.toBe(digestOf(b));
      expect(nearest(a)).toEqual(nearest(b));
      pairs++;
    }
  }, 60_000);

  it('refuses a duplicate key put at a random depth, every time, naming key and object', () => {
    const r = rng(77);
    let injected = 0;
    while (injected < 2000) {
      const root = randomNode(r, 0, 6);
      const objects = objectsOf(root).filter((o) => o.node.entries.length > 0);
      if (objects.length === 0) continue;
      const target = pick(r, objects);
      const [k] = pick(r, target.node.entries);
      const spelled = (r() < 0.3 && respell(k)) || k;
      const extra: [typeof k, Node] = [spelled, { t: 'lit', text: 'null' }];
      target.node.entries.splice(Math.floor(r() * (target.node.entries.length + 1)), 0, extra);
      const err = refusal(render(root, r), { maxDepth: 16 });
      expect(err.kind).toBe('duplicate-key');
      expect(err.key).toBe(k.value);
      expect(err.pointer).toBe(jsonPointer(target.path));
      injected++;
    }
  }, 60_000);

  it('refuses a lone surrogate put at a random place, and accepts the pairs', () => {
    const r = rng(99);
    for (let i = 0; i < 1000; i++) {
      const lone = pick(r, ['\\ud800', '\\udbff', '\\udc00', '\\udfff', '\\ud83d', '\\ude00']);
      // Between two whole strings, so no escape is split; a high one is followed by 'z', so no
      // pair is completed by accident.
      const [before, after] = [randomString(r, 3).text.slice(1, -1), randomString(r, 3).text.slice(1, -1)];
      const clean = `{"x":["k", "${before}${after}"]}`;
      expect(plain(parseStrictJson(clean))).toEqual(JSON.parse(clean));
      const text = `{"x":["k", "${before}${lone}${/^\\ud[89ab]/.test(lone) ? 'z' : ''}${after}"]}`;
      expect(() => JSON.parse(text)).not.toThrow();
      const err = refusal(text);
      expect(err.kind, text).toBe('invalid-unicode');
      expect(err.pointer, text).toBe('/x/1');
    }
  }, 60_000);

  it('never crashes on mutated documents, and accepts only what JSON.parse accepts', () => {
    const r = rng(4242);
    const counts = { accepted: 0, refused: 0 };
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', '0', '1', '-', '.', 'e', ' ', 'u', 'n', 't', '\u0000', '\ud800', 'é'];
    for (let i = 0; i < 4000; i++) {
      const text = render(randomNode(r, 0, 4), r);
      const at = Math.floor(r() * (text.length + 1));
      const op = r();
      const mutated = op < 0.33 ? text.slice(0, at) + text.slice(at + 1)
        : op < 0.66 ? text.slice(0, at) + pick(r, alphabet) + text.slice(at)
          : text.slice(0, at) + pick(r, alphabet) + text.slice(at + 1);
      let ours: JsonValue | JsonParseError;
      try {
        ours = parseStrictJson(mutated);
      } catch (err) {
        expect(err, mutated).toBeInstanceOf(JsonParseError);
        ours = err as JsonParseError;
      }
      let theirs: unknown;
      let theirsOk = true;
      try {
        theirs = JSON.parse(mutated);
      } catch {
        theirsOk = false;
      }
      if (ours instanceof JsonParseError) {
        counts.refused++;
        // Refusing what JSON.parse takes is only for the reasons JSON.parse ignores.
        if (theirsOk) expect(['duplicate-key', 'invalid-unicode', 'too-deep'], mutated).toContain(ours.kind);
      } else {
        counts.accepted++;
        expect(theirsOk, mutated).toBe(true);
        const p = nearest(ours);
        if (p !== undefined) expect(p, mutated).toEqual(theirs);
      }
    }
    expect(counts.accepted).toBeGreaterThan(300);
    expect(counts.refused).toBeGreaterThan(300);
  }, 60_000);

  it('reads random nesting up to 100 000 deep with no RangeError, refusing past the bound', () => {
    const r = rng(5);
    for (let i = 0; i < 200; i++) {
      const depth = i < 5 ? 100_000 : 1 + Math.floor(r() * (i < 100 ? 200 : 5000));
      const maxDepth = 1 + Math.floor(r() * 150);
      const { text, pointerSegments } = nested(depth, r);
      if (depth <= maxDepth) {
        expect(canonicalText(parseStrictJson(text, { maxDepth, maxBytes: Infinity }))).toBe(text);
      } else {
        const err = refusal(text, { maxDepth, maxBytes: Infinity });
        expect(err.kind).toBe('too-deep');
        expect(err.pointer).toBe(jsonPointer(pointerSegments(maxDepth)));
      }
    }
  }, 60_000);
});
