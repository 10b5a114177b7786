// A small TTL cache for credential look-ups. Concurrent misses for one key share one load, so a
// burst of tool calls costs the API server or Vault a single request. Failures are remembered
// for a shorter time: a missing Secret must not turn every call into a request, yet a fix must
// show quickly.

interface Entry<V> {
  expiresAt: number;
  value?: V;
  error?: unknown;
}

export interface TtlCacheOptions {
  ttlMs: number;
  errorTtlMs?: number;
  now?: () => number;
}

export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Promise<V>>();
  private readonly ttlMs: number;
  private readonly errorTtlMs: number;
  private readonly now: () => number;

  constructor(opts: TtlCacheOptions) {
    this.ttlMs = opts.ttlMs;
    this.errorTtlMs = Math.min(opts.errorTtlMs ?? 1000, opts.ttlMs);
    this.now = opts.now ?? Date.now;
  }

  /** The cached value (or cached failure) for `key`, loading it once when absent or expired. */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) {
      if ('error' in hit) throw hit.error;
      return hit.value as V;
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = load().then(
      (value) => {
        this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
        return value;
      },
      (error: unknown) => {
        this.entries.set(key, { error, expiresAt: this.now() + this.errorTtlMs });
        throw error;
      },
    ).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
