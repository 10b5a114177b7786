import { describe, expect, it } from 'vitest';
import { Backoff, jittered } from './backoff.ts';

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap, without jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('grows by the given factor', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 10_000, factor: 3, jitter: 0 });
    expect([1, 2, 3, 4].map((n) => b.delay(n))).toEqual([10, 30, 90, 270]);
  });

  it('draws the jittered share from [cap·(1-jitter), cap]', () => {
    const low = new Backoff({ initialMs: 1_000, maxMs: 10_000, jitter: 0.5, random: () => 0.999999 });
    const high = new Backoff({ initialMs: 1_000, maxMs: 10_000, jitter: 0.5, random: () => 0 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1_000);
    expect(low.next()).toBe(1_000);
    expect(high.next()).toBe(2_000);
  });

  it('jitters by default, within [half, whole] of the exponential delay', () => {
    const b = new Backoff({ initialMs: 1_000, maxMs: 8_000 });
    const delays = Array.from({ length: 200 }, () => b.delay(3));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(4_000);
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('delay(n) is the n-th failure\'s delay without touching the counter, for callers that count per key', () => {
    const b = new Backoff({ initialMs: 1, maxMs: 4, jitter: 0 });
    expect([1, 2, 3, 4, 5].map((n) => b.delay(n))).toEqual([1, 2, 4, 4, 4]);
    expect(b.delay(0)).toBe(1);
    expect(b.failures).toBe(0);
    expect(b.maxMs).toBe(4);
  });

  it('honours a minimum such as Retry-After, but never beyond the cap', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 5_000, jitter: 0 });
    expect(b.next(3_000)).toBe(3_000);
    expect(b.next(60_000)).toBe(5_000);
    expect(b.next(10)).toBe(400);
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
    expect(() => new Backoff({ jitter: 1.5 })).toThrow(/jitter=1.5/);
    expect(() => new Backoff({ initialMs: Number.NaN })).toThrow(/initialMs=NaN/);
  });
});

describe('jittered', () => {
  it('spreads an interval by ±fraction', () => {
    expect(jittered(1_000, 0.1, () => 0)).toBe(900);
    expect(jittered(1_000, 0.1, () => 0.5)).toBe(1_000);
    expect(jittered(1_000, 0.1, () => 0.999999)).toBe(1_100);
  });
});
