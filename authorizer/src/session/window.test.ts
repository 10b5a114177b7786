import { describe, expect, it } from 'vitest';
import { SlidingWindows } from './window.ts';

describe('SlidingWindows', () => {
  it('counts calls within the window only, and frees the oldest first', () => {
    let now = 1_000;
    const w = new SlidingWindows({ now: () => now });
    for (let i = 0; i < 3; i++) {
      w.add('k', 10_000, 3);
      now += 1_000;
    }
    expect(w.count('k', 10_000, 3)).toBe(3);
    // The first call was at 1000: the window frees it at 11000.
    expect(w.retryAfterMs('k', 10_000, 3)).toBe(11_000 - now);
    now = 11_000;
    expect(w.count('k', 10_000, 3)).toBe(2);
    expect(w.retryAfterMs('k', 10_000, 3)).toBe(0);
    now = 13_001;
    expect(w.count('k', 10_000, 3)).toBe(0);
  });

  it('keeps keys apart and never more than max timestamps per key', () => {
    let now = 0;
    const w = new SlidingWindows({ now: () => now });
    for (let i = 0; i < 50; i++) {
      w.add('a', 60_000, 2);
      now += 10;
    }
    expect(w.count('a', 60_000, 100)).toBe(2);
    expect(w.count('b', 60_000, 2)).toBe(0);
    // With only the newest two kept, the next call is free once the 49th leaves the window.
    expect(w.retryAfterMs('a', 60_000, 2)).toBe(480 + 60_000 - now);
  });

  it('forgets the least recently used key beyond maxKeys', () => {
    const w = new SlidingWindows({ maxKeys: 2, now: () => 0 });
    w.add('a', 1000, 1);
    w.add('b', 1000, 1);
    w.add('a', 1000, 1);
    w.add('c', 1000, 1);
    expect(w.size).toBe(2);
    expect(w.count('b', 1000, 1)).toBe(0);
    expect(w.count('a', 1000, 1)).toBe(1);
  });

  it('a limit of 0 never frees: retry after a whole window', () => {
    const w = new SlidingWindows({ now: () => 0 });
    expect(w.retryAfterMs('k', 5_000, 0)).toBe(5_000);
  });
});
