import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from './canonical.ts';

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

  it('sorts by code unit, not locale', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3 })).toBe('{"B":2,"a":3,"b":1}');
  });

  it('drops undefined properties like JSON.stringify and serialises null-prototype objects', () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { z: 1, u: undefined });
    expect(canonicalJson(o)).toBe('{"z":1}');
  });

  it('escapes strings as JSON does', () => {
    expect(canonicalJson({ 'k"': 'line\nbreak' })).toBe('{"k\\"":"line\\nbreak"}');
  });

  it.each([[Number.NaN], [Infinity], [() => 1], [undefined], [1n]])('refuses %s', (v) => {
    expect(() => canonicalJson([v])).toThrow(TypeError);
  });

  it('different content, different hash', () => {
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });
});
