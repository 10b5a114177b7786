// The compiled data of seeded policies must stay byte for byte what the compiler produced before
// candidate lists were indexed (digests recorded then, testdata/golden-cases.ts): the index is
// an optimisation, and a rule dropped or kept differently would change decisions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { digestOf, goldenCases } from './testdata/golden-cases.ts';

const recorded = JSON.parse(readFileSync(new URL('./testdata/golden-digests.json', import.meta.url), 'utf8')) as Record<string, string>;

describe('compiled data matches the recorded golden digests', () => {
  it('records a digest for every case', () => {
    expect(Object.keys(recorded).sort()).toEqual(goldenCases.map((c) => c.name).sort());
  });

  it.each(goldenCases.map((c) => [c.name, c] as const))('%s', (name, c) => {
    expect(digestOf(c)).toBe(recorded[name]);
  }, 60_000);
});
