import { describe, expect, it } from 'vitest';
import { httpDate, retryAfterMs } from './retry-after.ts';

const now = Date.parse('2026-01-01T00:00:00Z');

describe('retryAfterMs', () => {
  it('reads delay-seconds', () => {
    expect(retryAfterMs('5', now)).toBe(5_000);
    expect(retryAfterMs(' 120 ', now)).toBe(120_000);
    expect(retryAfterMs('0', now)).toBe(0);
  });

  it('reads an HTTP-date in each of the three forms, as the delay from now', () => {
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7_000);
    expect(retryAfterMs('Thursday, 01-Jan-26 00:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('Thu Jan  1 00:00:09 2026', now)).toBe(9_000);
    expect(retryAfterMs('Thu Jan 15 00:00:00 2026', now)).toBe(14 * 86_400_000);
  });

  it('gives 0 for a date in the past', () => {
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('gives undefined for an absent header or anything that is neither form', () => {
    for (const bad of [undefined, null, '', 'soon', '-3', '1.5', '2026-01-01', 'January 2026', '5 soon', 'Thu, 01 Jan 2026 00:00:07 UTC', 'Thu, 31 Feb 2026 00:00:00 GMT', 'Thu, 01 Jan 2026 24:00:00 GMT', 'Thu, 1 Jan 2026 00:00:00 GMT']) {
      expect(retryAfterMs(bad, now), String(bad)).toBeUndefined();
    }
  });
});

describe('httpDate', () => {
  it('reads a two-digit RFC 850 year as the latest such year not more than 50 years ahead', () => {
    expect(httpDate('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(Date.parse('1994-11-06T08:49:37Z'));
    expect(httpDate('Friday, 06-Nov-70 08:49:37 GMT', now)).toBe(Date.parse('2070-11-06T08:49:37Z'));
    expect(httpDate('Saturday, 06-Nov-77 08:49:37 GMT', now)).toBe(Date.parse('1977-11-06T08:49:37Z'));
  });
});
