// Verified bearer tokens, remembered so a caller's next request skips the signature check (an
// ES256 verify is most of a JWT Check's CPU). What is remembered is the proven CallerIdentity,
// keyed by the SHA-256 of the whole compact token: the token itself is never kept, and a token
// differing in any byte (another signature, a tampered payload) is another key, so a miss.
//
// An entry is used only while all of these hold, checked on every hit against the clock:
// - the token's exp has not passed (exactly exp, stricter than the verifier's skew), its nbf and
//   iat are not in the future (with the skew, as the verifier has it);
// - it is younger than the cap (maxAgeMs);
// - the issuer's key set it was verified with is still the one in force: no JWKS fetch has
//   started since (a rotation or a removed kid reaches the cache as a new generation, and every
//   entry of older ones stops counting), and that key set is within its own cache life, so an
//   entry never outlives the keys that proved it.
// Only successes are stored; a refused token is verified afresh every time.
import { createHash } from 'node:crypto';
import type { CallerIdentity } from '../gate/types.ts';

/** Default bound on remembered tokens (one entry is a few hundred bytes). */
export const defaultTokenCacheSize = 10_000;
/** Default longest an entry is used, whatever the token's exp. */
export const defaultTokenCacheMaxAgeMs = 5 * 60_000;

export interface TokenCacheOptions {
  /** Entries kept; the least recently used goes first. 0 turns the cache off. */
  maxEntries?: number;
  /** Longest an entry is used after its verification. */
  maxAgeMs?: number;
  /** Counts hits, misses and evictions. */
  onEvent?: (event: TokenCacheEvent) => void;
}

export type TokenCacheEvent = 'hit' | 'miss' | 'eviction';

/** The time claims an entry is re-checked against on every use (NumericDate seconds). */
export interface TokenTimes {
  exp: number;
  nbf?: number;
  iat?: number;
}

/** Which key set verified a token: entries of another generation, or of a stale set, are not used. */
export interface KeyGeneration {
  /** Changes whenever a fetch of the issuer's keys starts. */
  readonly id: number;
  /** The set is loaded, no fetch is in flight and it is within its cache life. */
  readonly usable: boolean;
}

interface Entry {
  caller: CallerIdentity;
  times: TokenTimes;
  generation: number;
  /** min(exp, verified + maxAge), epoch ms. */
  until: number;
}

export class VerifiedTokenCache {
  readonly #max: number;
  readonly #maxAgeMs: number;
  readonly #onEvent: ((e: TokenCacheEvent) => void) | undefined;
  /** Insertion order is recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();

  constructor(o: TokenCacheOptions = {}) {
    this.#max = o.maxEntries ?? defaultTokenCacheSize;
    this.#maxAgeMs = o.maxAgeMs ?? defaultTokenCacheMaxAgeMs;
    if (!Number.isInteger(this.#max) || this.#max < 0) throw new TypeError(`token cache maxEntries must be a non-negative integer, got ${this.#max}`);
    if (!(this.#maxAgeMs >= 0)) throw new TypeError(`token cache maxAgeMs must be a non-negative number, got ${this.#maxAgeMs}`);
    this.#onEvent = o.onEvent;
  }

  get size(): number {
    return this.#entries.size;
  }

  get enabled(): boolean {
    return this.#max > 0 && this.#maxAgeMs > 0;
  }

  /** The key of a token: its SHA-256, never the token. */
  static keyOf(token: string): string {
    return createHash('sha256').update(token, 'utf8').digest('base64url');
  }

  /** The caller a still-valid entry proved, or undefined (a miss: verify the token). */
  get(key: string, keys: KeyGeneration, nowMs: number, skewMs: number): CallerIdentity | undefined {
    if (!this.enabled) return undefined;
    const e = this.#entries.get(key);
    if (!e) {
      this.#onEvent?.('miss');
      return undefined;
    }
    const t = e.times;
    const valid = nowMs < e.until
      && e.generation === keys.id && keys.usable
      && (t.nbf === undefined || t.nbf * 1000 <= nowMs + skewMs)
      && (t.iat === undefined || t.iat * 1000 <= nowMs + skewMs);
    if (!valid) {
      this.#entries.delete(key);
      this.#onEvent?.('miss');
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, e);
    this.#onEvent?.('hit');
    return e.caller;
  }

  /**
   * Remembers a verified token. `generation` is the key set's generation read before the
   * verification started; when it changed meanwhile, or a fetch was in flight, nothing is stored.
   */
  set(key: string, caller: CallerIdentity, times: TokenTimes, generation: number, keys: KeyGeneration, nowMs: number): void {
    if (!this.enabled || generation !== keys.id || !keys.usable) return;
    const until = Math.min(times.exp * 1000, nowMs + this.#maxAgeMs);
    if (!(until > nowMs)) return;
    this.#entries.delete(key);
    this.#entries.set(key, { caller, times, generation, until });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.#onEvent?.('eviction');
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
