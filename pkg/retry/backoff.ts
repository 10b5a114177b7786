// The one retry delay of toolgate: capped exponential backoff with jitter, for the work queue,
// informer restarts, the bundle poll loop, webhook deliveries and upstream stream reconnects.
// Jitter spreads the retries of many pods (or keys) that failed at the same moment — a
// rollout, an apiserver or operator outage — so they do not come back in lockstep.

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Upper bound of any delay. Default 30 s. */
  maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /** Fraction of each delay that is randomised (0 = none, 1 = "full jitter"). Default 0.5. */
  jitter?: number;
  /** A source of uniform numbers in [0, 1); Math.random by default (tests pass their own). */
  random?: () => number;
}

export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(opts: BackoffOptions = {}) {
    this.#initial = opts.initialMs ?? 500;
    this.#max = opts.maxMs ?? 30_000;
    this.#factor = opts.factor ?? 2;
    this.#jitter = opts.jitter ?? 0.5;
    this.#random = opts.random ?? Math.random;
    if (!(this.#initial > 0) || !(this.#max >= this.#initial) || !(this.#factor >= 1) || !(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new RangeError(`invalid backoff: initialMs=${this.#initial} maxMs=${this.#max} factor=${this.#factor} jitter=${this.#jitter} (need 0 < initialMs <= maxMs, factor >= 1, 0 <= jitter <= 1)`);
    }
  }

  /** The largest delay this backoff ever returns. */
  get maxMs(): number {
    return this.#max;
  }

  /** Consecutive failures counted by next() since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * The delay after the n-th consecutive failure (n >= 1): initial·factor^(n-1), capped, with
   * the jittered share drawn from [cap·(1-jitter), cap]. `atLeastMs` (e.g. a server's
   * Retry-After or SSE retry) raises it, still within the cap. For callers that count failures
   * themselves (per key, per delivery).
   */
  delay(failures: number, atLeastMs = 0): number {
    const n = Math.max(1, Math.floor(failures));
    const exp = Math.min(this.#max, this.#initial * this.#factor ** Math.min(n - 1, 64));
    const jittered = exp * (1 - this.#jitter * this.#random());
    return Math.round(Math.min(this.#max, Math.max(jittered, atLeastMs)));
  }

  /** Counts one more failure and returns the delay before the next attempt. */
  next(atLeastMs = 0): number {
    this.#failures++;
    return this.delay(this.#failures, atLeastMs);
  }

  /** After a success: the next failure starts again from the initial delay. */
  reset(): void {
    this.#failures = 0;
  }
}

/** Spreads a fixed interval by ±fraction, for periodic work that many pods do at once. */
export function jittered(ms: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + 2 * fraction * random()));
}
