// Capped exponential backoff with jitter for the bundle poll loop. Jitter spreads the retries
// of many authorizer pods that all lost the operator at the same moment (a rollout, an outage),
// so they do not come back in lockstep.

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
    this.#jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
    this.#random = opts.random ?? Math.random;
    if (!(this.#initial > 0) || !(this.#max >= this.#initial) || !(this.#factor >= 1)) {
      throw new RangeError(`invalid backoff: initialMs=${this.#initial} maxMs=${this.#max} factor=${this.#factor} (need 0 < initialMs <= maxMs, factor >= 1)`);
    }
  }

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * The delay before the next attempt after one more failure: initial·factor^(n-1), capped,
   * with the jittered share drawn from [cap·(1-jitter), cap]. `atLeast` (e.g. a server's
   * Retry-After) raises it, still within the cap.
   */
  next(atLeast = 0): number {
    this.#failures++;
    const exp = Math.min(this.#max, this.#initial * this.#factor ** Math.min(this.#failures - 1, 64));
    const delay = exp * (1 - this.#jitter * this.#random());
    return Math.round(Math.min(this.#max, Math.max(delay, atLeast)));
  }

  reset(): void {
    this.#failures = 0;
  }
}

/** Spreads a fixed interval by ±fraction, for periodic work that many pods do at once. */
export function jittered(ms: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + 2 * fraction * random()));
}

/** Retry-After in ms (delta-seconds or an HTTP date), or 0 when absent or unusable. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number {
  if (!header) return 0;
  const trimmed = header.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? 0 : Math.max(0, at - now);
}
