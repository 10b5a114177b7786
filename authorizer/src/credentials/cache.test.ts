import { describe, expect, it } from 'vitest';
import { TtlCache } from './cache.ts';

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TtlCache', () => {
  it('serves a value until its TTL passes, then loads again', async () => {
    const c = clock();
    const cache = new TtlCache<string>({ ttlMs: 100, now: c.now });
    let loads = 0;
    const load = () => Promise.resolve(`v${++loads}`);
    expect(await cache.get('k', load)).toBe('v1');
    c.advance(99);
    expect(await cache.get('k', load)).toBe('v1');
    c.advance(1);
    expect(await cache.get('k', load)).toBe('v2');
  });

  it('shares one load among concurrent misses', async () => {
    const cache = new TtlCache<number>({ ttlMs: 1000 });
    let loads = 0;
    let release: (v: number) => void = () => undefined;
    const load = () => { loads++; return new Promise<number>((r) => (release = r)); };
    const all = Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)]);
    release(7);
    expect(await all).toEqual([7, 7, 7]);
    expect(loads).toBe(1);
  });

  it('remembers a failure only for the shorter error TTL', async () => {
    const c = clock();
    const cache = new TtlCache<string>({ ttlMs: 10_000, errorTtlMs: 50, now: c.now });
    let fail = true;
    let loads = 0;
    const load = () => { loads++; return fail ? Promise.reject(new Error('missing')) : Promise.resolve('ok'); };
    await expect(cache.get('k', load)).rejects.toThrow('missing');
    fail = false;
    await expect(cache.get('k', load)).rejects.toThrow('missing');
    expect(loads).toBe(1);
    c.advance(50);
    expect(await cache.get('k', load)).toBe('ok');
    expect(loads).toBe(2);
  });
});
