import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from './canonical.ts';
import { JsonNumber } from './number.ts';
import { JsonValueError } from './write.ts';
import { rng } from '../../test/support/json-corpus.ts';

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
  });

  it('gives the same bytes whatever the insertion order', () => {
    const one = { x: { p: true, q: 'é' }, y: [{ b: 2, a: 1 }] };
    const two = { y: [{ a: 1, b: 2 }], x: { q: 'é', p: true } };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(contentHash(one)).toBe(contentHash(two));
    expect(contentHash(one)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sorts by UTF-16 code unit as RFC 8785 section 3.2.3 does (its own example)', () => {
    const keys = ['\u20ac', '\r', '\ufb33', '1', '\ud83d\ude00', '\u0080', '\u00f6'];
    const text = canonicalJson(Object.fromEntries(keys.map((k, i) => [k, i])));
    // (Object.keys would list "1" first: JS enumerates integer-like keys before the others.)
    const order = [...text.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    expect(order).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
    expect(canonicalJson({ b: 1, B: 2, a: 3 })).toBe('{"B":2,"a":3,"b":1}');
  });

  it('writes numbers as ECMAScript does (RFC 8785 appendix B)', () => {
    const cases: Array<[number, string]> = [
      [0, '0'], [-0, '0'], [1e21, '1e+21'], [1e-7, '1e-7'], [0.000001, '0.000001'], [Number('333333333.33333329'), '333333333.3333333'],
      [1e30, '1e+30'], [4.5, '4.5'], [0.002, '0.002'], [1e-27, '1e-27'], [9007199254740992, '9007199254740992'], [-1.7976931348623157e308, '-1.7976931348623157e+308'],
    ];
    for (const [n, text] of cases) expect(canonicalJson(n)).toBe(text);
  });

  it('writes a JsonNumber as its own text, so 1.0 and 1 differ', () => {
    expect(canonicalJson({ a: new JsonNumber('1.0'), b: 1 })).toBe('{"a":1.0,"b":1}');
    expect(contentHash([new JsonNumber('1234567890123456789')])).not.toBe(contentHash([new JsonNumber('1234567890123456700')]));
    expect(contentHash([new JsonNumber('100')])).toBe(contentHash([100]));
  });

  it('drops undefined properties (absent) and serialises null-prototype objects', () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { z: 1, u: undefined });
    expect(canonicalJson(o)).toBe('{"z":1}');
  });

  it('escapes strings as JSON does', () => {
    expect(canonicalJson({ 'k"': 'line\nbreak\u2028\u0001' })).toBe('{"k\\"":"line\\nbreak\u2028\\u0001"}');
  });

  class Point {
    x = 1;
  }
  const cyclic: Record<string, unknown> = { a: [{}] };
  ((cyclic.a as unknown[])[0] as Record<string, unknown>).back = cyclic;

  it.each<[string, unknown, string, string]>([
    ['a Date', { when: new Date(0) }, '/when', 'a Date has no JSON form'],
    ['a Map', { m: new Map([['a', 1]]) }, '/m', 'a Map has no JSON form'],
    ['a Set', [1, new Set([1])], '/1', 'a Set has no JSON form'],
    ['a class instance', { p: new Point() }, '/p', 'a Point has no JSON form'],
    ['a Buffer', { b: Buffer.from('x') }, '/b', 'a Buffer has no JSON form'],
    ['a boxed string', [new String('x')], '/0', 'a String has no JSON form'],
    ['a BigInt', { n: 1n }, '/n', 'a bigint has no JSON form'],
    ['a function', { f: () => 1 }, '/f', 'a function has no JSON form'],
    ['a symbol', [Symbol('s')], '/0', 'a symbol has no JSON form'],
    ['NaN', { a: { 'b/c~': Number.NaN } }, '/a/b~1c~0', 'NaN has no JSON form'],
    ['Infinity', [[-Infinity]], '/0/0', '-Infinity has no JSON form'],
    ['undefined in an array', [1, undefined], '/1', 'undefined has no JSON form'],
    ['a hole in an array', [1, , 3], '/1', 'undefined has no JSON form'], // eslint-disable-line no-sparse-arrays
    ['undefined itself', undefined, '', 'undefined has no JSON form'],
    ['a lone surrogate', { s: 'a\ud800' }, '/s', 'lone surrogate'],
    ['a lone surrogate in a key', { k: { '\udc00': 1 } }, '/k/\udc00', 'lone surrogate'],
    ['a cycle', cyclic, '/a/0/back', 'a cycle'],
  ])('refuses %s, naming its JSON Pointer', (_name, value, pointer, message) => {
    let thrown: unknown;
    try {
      canonicalJson(value);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(JsonValueError);
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as JsonValueError).pointer).toBe(pointer);
    expect((thrown as Error).message).toContain(message);
    expect(() => contentHash(value)).toThrow(JsonValueError);
  });

  it('accepts the same object twice when it is not its own ancestor', () => {
    const shared = { a: 1 };
    expect(canonicalJson({ x: shared, y: [shared, shared] })).toBe('{"x":{"a":1},"y":[{"a":1},{"a":1}]}');
  });

  it('writes 100 000 levels of arrays and objects without a RangeError', () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) v = i % 2 ? [v] : { k: v };
    const text = canonicalJson(v);
    expect(text.length).toBe(50_000 * '[]'.length + 50_000 * '{"k":}'.length + '"leaf"'.length);
    expect(text.startsWith('[{"k":[{"k":')).toBe(true);
    expect(contentHash(v)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('different content, different hash', () => {
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });
});

// ---- The RFC 8785 author's implementation as oracle, on generated plain values ----

function randomValue(r: () => number, depth: number): unknown {
  const p = r();
  if (depth > 4 || p < 0.3) {
    const leaf = r();
    if (leaf < 0.3) return String.fromCodePoint(...Array.from({ length: Math.floor(r() * 6) }, () => (r() < 0.2 ? 0x1f600 + Math.floor(r() * 50) : Math.floor(r() * 0xd000))));
    if (leaf < 0.5) return (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
    if (leaf < 0.7) return Math.floor((r() - 0.5) * 2 ** 60);
    if (leaf < 0.8) return [0, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, 0.1 + 0.2][Math.floor(r() * 7)];
    return [true, false, null][Math.floor(r() * 3)];
  }
  if (p < 0.6) return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[randomValue(r, 99) as string] = randomValue(r, depth + 1);
  return o;
}

describe('canonicalJson against npm canonicalize', () => {
  it('writes the same text for 3000 random plain values', () => {
    const r = rng(8785);
    for (let i = 0; i < 3000; i++) {
      const v = randomValue(r, 0);
      expect(canonicalJson(v)).toBe(canonicalize(v));
    }
  });
});
