// Sliding-window counters for velocity limits, in this replica's memory. A limit of `max` calls
// per window needs at most `max` timestamps per key: the count is only ever compared with max,
// and the oldest of the last `max` calls says when the next one is let through again.
export interface SlidingWindowOptions {
  /** Keys kept; the least recently used is forgotten beyond this (its counts restart at 0). */
  maxKeys?: number;
  now?: () => number;
}

export class SlidingWindows {
  readonly #keys = new Map<string, number[]>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(o: SlidingWindowOptions = {}) {
    this.#maxKeys = o.maxKeys ?? 100_000;
    this.#now = o.now ?? Date.now;
  }

  /** Calls recorded for `key` within the last `windowMs`, at most `cap`. */
  count(key: string, windowMs: number, cap: number): number {
    return Math.min(this.#live(key, windowMs).length, cap);
  }

  /** Records one call now; keeps the newest `cap` timestamps (cap 0 keeps none). */
  add(key: string, windowMs: number, cap: number): void {
    const ts = this.#live(key, windowMs);
    ts.push(this.#now());
    while (ts.length > Math.max(cap, 0)) ts.shift();
    this.#keys.delete(key);
    if (ts.length === 0) return;
    this.#keys.set(key, ts);
    if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
  }

  /** Milliseconds until a call under `key` would be within `max` again (0 when it already is). */
  retryAfterMs(key: string, windowMs: number, max: number): number {
    const ts = this.#live(key, windowMs);
    if (ts.length < max || ts.length === 0) return max === 0 ? windowMs : 0;
    return Math.max(1, ts[ts.length - max]! + windowMs - this.#now());
  }

  get size(): number {
    return this.#keys.size;
  }

  #live(key: string, windowMs: number): number[] {
    const ts = this.#keys.get(key);
    if (!ts) return [];
    const cutoff = this.#now() - windowMs;
    while (ts.length > 0 && ts[0]! <= cutoff) ts.shift();
    return ts;
  }
}
