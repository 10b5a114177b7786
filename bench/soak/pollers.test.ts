import { describe, expect, it } from 'vitest';
import { missedRevisions } from './pollers.ts';

describe('missedRevisions', () => {
  const published = ['r1', 'r2', 'r3', 'r4'];
  it('counts nothing missed when every revision arrived', () => {
    expect(missedRevisions(['r1', 'r2', 'r3', 'r4'], published)).toEqual([]);
  });
  it('names the revisions skipped between two received ones and after the last', () => {
    expect(missedRevisions(['r1', 'r3'], published)).toEqual(['r2', 'r4']);
  });
  it('counts from the first revision the poller received (it started later)', () => {
    expect(missedRevisions(['r2', 'r4'], published)).toEqual(['r3']);
  });
  it('counts everything missed when the poller received nothing, or nothing published', () => {
    expect(missedRevisions([], published)).toEqual(published);
    expect(missedRevisions(['elsewhere'], published)).toEqual(published);
  });
});
