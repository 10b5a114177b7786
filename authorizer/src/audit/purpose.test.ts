import { describe, expect, it } from 'vitest';
import { maxPurposeChars, statedPurpose } from './purpose.ts';

const key = 'toolgate.io/purpose';

describe('statedPurpose', () => {
  it('reads params._meta["toolgate.io/purpose"], absent when the key or _meta is', () => {
    expect(statedPurpose({ _meta: { [key]: 'support ticket 12' } })).toEqual({ purpose: 'support ticket 12' });
    expect(statedPurpose({})).toEqual({});
    expect(statedPurpose({ _meta: { progressToken: 1 } })).toEqual({});
  });

  it('refuses a purpose that is not a non-empty, bounded string, naming the key', () => {
    for (const bad of [42, null, { a: 1 }, ['x'], '', '   ', 'x'.repeat(maxPurposeChars + 1)]) {
      const r = statedPurpose({ _meta: { [key]: bad } });
      expect(r).toEqual({ error: expect.stringContaining(`params._meta["${key}"]`) });
    }
    expect(statedPurpose({ _meta: { [key]: 'x'.repeat(maxPurposeChars) } })).toEqual({ purpose: 'x'.repeat(maxPurposeChars) });
  });

  it('a name variant of the key is not the key (it states no purpose)', () => {
    expect(statedPurpose({ _meta: { 'Toolgate.io/Purpose': 'x', 'toolgate.io/purpose ': 'y' } })).toEqual({});
  });
});
