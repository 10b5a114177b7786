import { describe, expect, it } from 'vitest';
import { Backoff, jittered, retryAfterMs } from './backoff.ts';

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap, without jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('draws the jittered share from [cap·(1-jitter), cap]', () => {
    const low = new Backoff({ initialMs: 1_000, maxMs: 10_000, jitter: 0.5, random: () => 0.999999 });
    const high = new Backoff({ initialMs: 1_000, maxMs: 10_000, jitter: 0.5, random: () => 0 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1_000);
    expect(low.next()).toBe(1_000);
    expect(high.next()).toBe(2_000);
  });

  it('honours a minimum such as Retry-After, but never beyond the cap', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 5_000, jitter: 0 });
    expect(b.next(3_000)).toBe(3_000);
    expect(b.next(60_000)).toBe(5_000);
  });

  it('does not overflow after very many failures', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 30_000, jitter: 0 });
    for (let i = 0; i < 2_000; i++) b.next();
    expect(b.next()).toBe(30_000);
  });

  it('refuses nonsensical settings, saying which', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(/initialMs=0/);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(/initialMs <= maxMs/);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(/factor >= 1/);
  });
});

describe('jittered', () => {
  it('spreads an interval by ±fraction', () => {
    expect(jittered(1_000, 0.1, () => 0)).toBe(900);
    expect(jittered(1_000, 0.1, () => 0.5)).toBe(1_000);
    expect(jittered(1_000, 0.1, () => 0.999999)).toBe(1_100);
  });
});

describe('retryAfterMs', () => {
  it('reads delta-seconds and HTTP dates; ignores junk', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('5')).toBe(5_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon')).toBe(0);
    expect(retryAfterMs('-3')).toBe(0);
    expect(retryAfterMs(undefined)).toBe(0);
  });
});
