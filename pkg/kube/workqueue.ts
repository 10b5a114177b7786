// A per-key work queue in the style of client-go's: a key is processed by one worker at a
// time, re-adding a key while it is queued is a no-op (events coalesce), re-adding it while it
// is in flight queues exactly one more pass, and failures are retried with capped, jittered
// exponential backoff (per key) up to a limit after which the key is dropped (and counted)
// until the next event.
import { Backoff, type BackoffOptions } from '../retry/backoff.ts';

export interface WorkQueueOptions {
  /** Parallel workers (distinct keys only). */
  concurrency?: number;
  /** Retry delays per key. Default: from 250 ms, doubling, up to 60 s, jittered. */
  backoff?: BackoffOptions;
  /** Failures after which a key is dropped until it is added again. */
  maxRetries?: number;
  /** Called for every outcome, for logs and metrics. */
  onResult?: (event: WorkQueueEvent) => void;
}

export type WorkQueueEvent =
  | { type: 'done'; key: string; durationMs: number }
  | { type: 'retry'; key: string; attempt: number; delayMs: number; error: unknown }
  | { type: 'dropped'; key: string; attempts: number; error: unknown };

export type Handler = (key: string) => Promise<void>;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  /** Keys added again while in flight: run once more when the current pass ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly idleWaiters: Array<() => void> = [];
  private active = 0;
  private stopped = false;
  private readonly concurrency: number;
  private readonly backoff: Backoff;
  private readonly maxRetries: number;
  private readonly onResult: (event: WorkQueueEvent) => void;
  private readonly handler: Handler;

  constructor(handler: Handler, options: WorkQueueOptions = {}) {
    this.handler = handler;
    this.concurrency = options.concurrency ?? 2;
    this.backoff = new Backoff({ initialMs: 250, maxMs: 60_000, ...options.backoff });
    this.maxRetries = options.maxRetries ?? 10;
    this.onResult = options.onResult ?? (() => {});
  }

  /** Queue a key now. A pending retry for it is replaced by this immediate pass. */
  add(key: string): void {
    if (this.stopped) return;
    const timer = this.timers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    if (this.inFlight.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Queue a key after a delay (used for requeue-after, e.g. an approval's expiry). */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (this.timers.has(key) || this.queued.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, Math.max(0, delayMs));
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Forget a key's failure history (after it succeeded or was deleted). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  get length(): number {
    return this.queue.length;
  }

  get retrying(): number {
    return this.timers.size;
  }

  /** Resolves when nothing is queued or in flight (pending retries do not count). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.queued.delete(key);
      this.inFlight.add(key);
      this.active++;
      void this.run(key);
    }
    if (this.queue.length === 0 && this.active === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(key: string): Promise<void> {
    const started = performance.now();
    try {
      await this.handler(key);
      this.failures.delete(key);
      this.onResult({ type: 'done', key, durationMs: performance.now() - started });
    } catch (error) {
      const attempts = (this.failures.get(key) ?? 0) + 1;
      if (attempts > this.maxRetries) {
        this.failures.delete(key);
        this.onResult({ type: 'dropped', key, attempts, error });
      } else {
        this.failures.set(key, attempts);
        const delayMs = this.backoff.delay(attempts);
        this.onResult({ type: 'retry', key, attempt: attempts, delayMs, error });
        if (!this.dirty.has(key)) this.addAfter(key, delayMs);
      }
    } finally {
      this.inFlight.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
