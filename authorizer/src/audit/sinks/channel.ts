// One sink's way from the trail: a bounded buffer (lines and bytes), a sender that retries with
// capped jittered backoff (honouring a Retry-After), and the sink's mode.
//
// required: the trail waits until the sink holds a batch before its decisions count as written;
//   a sink that is down (backing off) or slower than timeoutMs fails them at once, so the gate
//   refuses the calls (or lets them through where spec.audit.onFailure is Allow). The lines stay
//   queued and are delivered when the sink is back: the sink's copy stays whole.
// async: decisions never wait; the backlog is bounded, shown in metrics and /readyz.
//
// Full buffer: the newest lines are dropped (the buffer keeps a contiguous run of the oldest), and
// the drop is declared: an `overflow` record (overflow.ts), chained like the others, naming the
// sink, the count and the seqs. Declarations are rate-limited (declareEveryMs) and a sink's own
// declarations get a small reserve beyond the limit, so a dead sink neither floods the trail with
// declarations nor loses the one that explains its gap.
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from '../../../../pkg/retry/backoff.ts';
import type { AuditMetrics } from '../metrics.ts';
import { SeqRanges } from './overflow.ts';
import { SinkWriteError, type AuditSink, type SinkMode } from './sink.ts';

/** A line of the trail on its way to a sink. `declares` names the sink an overflow record is about. */
export interface SinkEntry {
  seq: number;
  line: string;
  declares?: string;
}

export interface Declaration {
  sink: string;
  count: number;
  ranges: Array<[number, number]>;
  reason: string;
}

export interface SinkChannelOptions {
  sink: AuditSink;
  mode: SinkMode;
  /** Buffer bounds: lines waiting (not yet delivered) and their bytes. */
  maxLines: number;
  maxBytes: number;
  /** Most lines per delivery. Default 500. */
  batchLines?: number;
  /** required mode: how long a batch may take before its decisions fail. Default 5 s. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** At most one overflow record per this many ms per sink. Default 5 s. */
  declareEveryMs?: number;
  metrics: AuditMetrics;
  log: Logger;
  /** Puts an overflow record into the trail (which chains it and offers it to every sink). */
  declare: (d: Declaration) => void;
  now?: () => number;
}

export type OfferResult = { ok: true } | { ok: false; reason: string };

interface Queued extends SinkEntry {
  bytes: number;
  at: number;
}

interface Waiter {
  seq: number;
  settle: (r: OfferResult) => void;
  timer: NodeJS.Timeout;
}

/** Room beyond maxLines for a sink's own overflow records. */
const declarationReserve = 64;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class SinkChannel {
  readonly name: string;
  readonly mode: SinkMode;
  readonly #o: SinkChannelOptions;
  readonly #backoff: Backoff;
  readonly #now: () => number;
  readonly #queue: Queued[] = [];
  #bytes = 0;
  #waiters: Waiter[] = [];
  #pumping: Promise<void> | undefined;
  /** Set while backing off after a failed delivery: the reason. */
  #down: string | undefined;
  #wake: (() => void) | undefined;
  #drops = new SeqRanges();
  #declaring = false;
  #lastDeclaredAt = Number.NEGATIVE_INFINITY;
  #declareTimer: NodeJS.Timeout | undefined;
  /** No more offers: the trail is closing and this sink's leftovers were declared. */
  #abandoned = false;
  #stopping = false;

  constructor(o: SinkChannelOptions) {
    if (!(o.maxLines >= 1) || !(o.maxBytes >= 1)) throw new RangeError(`audit sink ${o.sink.name}: maxLines and maxBytes must be at least 1 (got ${o.maxLines}, ${o.maxBytes})`);
    this.#o = o;
    this.name = o.sink.name;
    this.mode = o.mode;
    this.#backoff = new Backoff({ initialMs: 250, maxMs: 30_000, ...o.backoff });
    this.#now = o.now ?? Date.now;
    o.metrics.sinks.add(this);
    this.#gauges();
  }

  get backlogLines(): number {
    return this.#queue.length;
  }

  get backlogBytes(): number {
    return this.#bytes;
  }

  /** Seconds the oldest unsent line has waited (0 when none waits). */
  oldestUnsentSeconds(): number {
    const first = this.#queue[0];
    return first ? (this.#now() - first.at) / 1000 : 0;
  }

  /** Why the sink is not taking lines, while it is backing off. */
  get down(): string | undefined {
    return this.#down;
  }

  /** /readyz: a required sink that is down makes the pod unready (its calls are refused anyway). */
  readiness(): { ok: boolean; detail: string } {
    const state = this.#down ? `down (${this.#down})` : 'up';
    const detail = `${this.mode}, ${state}, backlog ${this.#queue.length}/${this.#o.maxLines} lines ${this.#bytes}/${this.#o.maxBytes} bytes, oldest unsent ${Math.round(this.oldestUnsentSeconds())}s`;
    return { ok: this.mode === 'async' || !this.#down, detail };
  }

  /**
   * Takes the lines of one written batch. async: resolves at once. required: resolves once the
   * sink holds them, or says why not (down, full, too slow); they stay queued either way unless
   * dropped.
   */
  offer(entries: readonly SinkEntry[]): Promise<OfferResult> {
    if (this.#abandoned) return Promise.resolve({ ok: false, reason: `audit sink ${this.name} is closed` });
    let dropped = 0;
    let last: number | undefined;
    for (const e of entries) {
      if (e.declares === this.name) this.#declaring = false;
      const bytes = Buffer.byteLength(e.line) + 1;
      const own = e.declares === this.name;
      const fits = own
        ? this.#queue.length < this.#o.maxLines + declarationReserve
        : this.#queue.length < this.#o.maxLines && (this.#bytes + bytes <= this.#o.maxBytes || this.#queue.length === 0);
      if (!fits) {
        dropped++;
        this.#drops.add(e.seq);
        continue;
      }
      this.#queue.push({ ...e, bytes, at: this.#now() });
      this.#bytes += bytes;
      last = e.seq;
    }
    if (dropped > 0) {
      this.#o.metrics.sinkDropped.inc({ sink: this.name }, dropped);
      this.#o.log.error({ sink: this.name, dropped, backlog: this.#queue.length }, 'audit sink buffer full: lines dropped (declared by an overflow record)');
    }
    if (this.#drops.count > 0) this.#maybeDeclare();
    this.#gauges();
    if (last !== undefined) this.#pumping ??= this.#pump();
    if (this.mode === 'async') return Promise.resolve({ ok: true });
    if (dropped > 0) return Promise.resolve({ ok: false, reason: `audit sink ${this.name}: buffer full (${this.#queue.length} lines, ${this.#bytes} bytes waiting), ${dropped} lines dropped` });
    if (this.#down) return Promise.resolve({ ok: false, reason: `audit sink ${this.name} is down: ${this.#down}` });
    if (last === undefined) return Promise.resolve({ ok: true });
    return this.#waitFor(last);
  }

  #waitFor(seq: number): Promise<OfferResult> {
    return new Promise((settle) => {
      const timeoutMs = this.#o.timeoutMs ?? 5000;
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        settle({ ok: false, reason: `audit sink ${this.name} did not take the record within ${timeoutMs} ms${this.#down ? `: ${this.#down}` : ''}` });
      }, timeoutMs);
      this.#waiters.push({ seq, settle, timer });
    });
  }

  #settleWaiters(pred: (w: Waiter) => boolean, r: OfferResult): void {
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (pred(w)) {
        clearTimeout(w.timer);
        w.settle(r);
      } else keep.push(w);
    }
    this.#waiters = keep;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#abandoned) {
        const batch = this.#nextBatch();
        try {
          await this.#o.sink.write(batch.map((e) => e.line));
        } catch (err) {
          const reason = errorText(err);
          this.#o.metrics.sinkFailures.inc({ sink: this.name });
          const delay = this.#backoff.next(err instanceof SinkWriteError ? err.retryAfterMs : 0);
          if (!this.#down) this.#o.log.error({ sink: this.name, err: reason, backlog: this.#queue.length }, 'audit sink write failed; retrying with backoff');
          this.#down = reason;
          // A required sink that failed fails its waiting decisions now, not at their timeout.
          this.#settleWaiters(() => true, { ok: false, reason: `audit sink ${this.name} is down: ${reason}` });
          await this.#sleep(this.#stopping ? Math.min(delay, 100) : delay);
          continue;
        }
        this.#queue.splice(0, batch.length);
        for (const e of batch) this.#bytes -= e.bytes;
        if (this.#down) this.#o.log.info({ sink: this.name, backlog: this.#queue.length }, 'audit sink is back');
        this.#down = undefined;
        this.#backoff.reset();
        this.#o.metrics.sinkWritten.inc({ sink: this.name }, batch.length);
        const upTo = batch.at(-1)!.seq;
        this.#settleWaiters((w) => w.seq <= upTo, { ok: true });
        this.#gauges();
      }
    } finally {
      this.#pumping = undefined;
    }
  }

  #nextBatch(): Queued[] {
    const max = this.#o.batchLines ?? 500;
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < max && (n === 0 || bytes + this.#queue[n]!.bytes <= this.#o.maxBytes)) {
      bytes += this.#queue[n]!.bytes;
      n++;
    }
    return this.#queue.slice(0, n);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  #maybeDeclare(): void {
    if (this.#declaring || this.#drops.count === 0 || this.#declareTimer) return;
    const wait = this.#lastDeclaredAt + (this.#o.declareEveryMs ?? 5000) - this.#now();
    if (wait > 0) {
      this.#declareTimer = setTimeout(() => {
        this.#declareTimer = undefined;
        this.#maybeDeclare();
      }, wait);
      this.#declareTimer.unref();
      return;
    }
    this.#declareNow('buffer full');
  }

  #declareNow(reason: string): void {
    const { count, ranges } = this.#drops.take();
    if (count === 0) return;
    this.#declaring = !this.#abandoned;
    this.#lastDeclaredAt = this.#now();
    this.#o.declare({ sink: this.name, count, ranges, reason });
  }

  /** Keeps delivering until the buffer is empty or the deadline passes (trail closing). */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    const done = (async () => {
      while (this.#pumping) await this.#pumping;
    })();
    await Promise.race([done, deadline]);
  }

  /**
   * The trail is closing and this sink still has lines: they are dropped and declared (with
   * whatever drops were not declared yet), and the sink takes no more.
   */
  abandon(): void {
    if (this.#declareTimer) clearTimeout(this.#declareTimer);
    this.#declareTimer = undefined;
    const left = this.#queue.splice(0);
    for (const e of left) this.#drops.add(e.seq);
    this.#bytes = 0;
    if (left.length) this.#o.metrics.sinkDropped.inc({ sink: this.name }, left.length);
    this.#abandoned = true;
    this.#wake?.();
    this.#settleWaiters(() => true, { ok: false, reason: `audit sink ${this.name} closed with lines unsent` });
    this.#declareNow(left.length ? 'unsent when the trail closed' : 'buffer full');
    this.#gauges();
  }

  /** Whether anything is still owed to the sink or still to be declared. */
  get settled(): boolean {
    return this.#queue.length === 0 && this.#drops.count === 0;
  }

  async close(): Promise<void> {
    if (!this.settled) this.abandon();
    this.#abandoned = true;
    this.#wake?.();
    if (this.#declareTimer) clearTimeout(this.#declareTimer);
    while (this.#pumping) await this.#pumping;
    this.#o.metrics.sinks.delete(this);
    await this.#o.sink.close();
  }

  #gauges(): void {
    this.#o.metrics.sinkBacklogLines.set({ sink: this.name }, this.#queue.length);
    this.#o.metrics.sinkBacklogBytes.set({ sink: this.name }, this.#bytes);
  }
}
