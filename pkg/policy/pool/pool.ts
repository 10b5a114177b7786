// Policy evaluations on worker threads, so decisions use every core: the main thread keeps the
// transport, the gate and the audit trail (per-process state: held approvals, sessions, the
// audit chain stay in one place, unchanged), and hands the CPU-bound part, the wasm evaluation,
// to the least busy worker holding the policy.
//
// Every worker holds every loaded policy under the key the engine gave it (engine id and load
// sequence). load() resolves only once every worker has it, so the engine reports a revision
// active only when any worker may be asked under it; an engine drops a key once no evaluation
// under it is in flight. A worker that exits unexpectedly fails its in-flight evaluations with
// PolicyWorkerExit (the engine refuses those calls, saying why) and is replaced by a worker that
// loads every current policy before it is given work.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { EvalRequest, FromWorker, ToWorker } from './protocol.ts';

// In a bundle (hack/dist.ts) the worker is its own file beside the bundle, and esbuild defines
// TOOLGATE_POLICY_WORKER as its name; from the sources it is worker.ts beside this file.
declare const TOOLGATE_POLICY_WORKER: string | undefined;
const workerUrl = new URL(typeof TOOLGATE_POLICY_WORKER === 'string' ? TOOLGATE_POLICY_WORKER : './worker.ts', import.meta.url);

/** An evaluation lost with its worker: the caller refuses the call (fail closed). */
export class PolicyWorkerExit extends Error {
  override name = 'PolicyWorkerExit';
}

export interface PolicyWorkerPoolOptions {
  /** Worker threads; default defaultWorkerCount(), at least 1. */
  size?: number;
  log?: Logger;
}

/**
 * AUTHORIZER_WORKERS' default: one worker fewer than the cores this process may use (0, in-process,
 * on one core). The main thread is a core's worth of work of its own (gRPC, HTTP/2, the gate,
 * the audit trail), so a worker per core oversubscribes them: on 2 cores one worker answered
 * 22–50 % more Checks a second than two at c=16/64, and 8–19 % more than none (bench/README.md,
 * session 12).
 */
export const defaultWorkerCount = (): number => Math.max(availableParallelism() - 1, 0);

/** The pool for an AUTHORIZER_WORKERS count: none for 0 (the engine evaluates in-process). */
export const policyWorkerPoolFor = (workers: number, log?: Logger): PolicyWorkerPool | undefined =>
  workers > 0 ? new PolicyWorkerPool({ size: workers, ...(log ? { log } : {}) }) : undefined;

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
  /** The same evaluation on the calling thread, for when it is the only one asked (#flush). */
  local?: () => unknown;
}

interface Thread {
  worker: Worker;
  /** worker.threadId, kept: it reads -1 once the thread has exited. */
  id: number;
  pending: Map<number, Pending>;
  /** Keys this worker has finished loading. */
  loaded: Set<string>;
  /** Load acknowledgements awaited, by key. */
  loading: Map<string, { resolve(): void; reject(err: Error): void }>;
  exited: boolean;
  /** ref()'d: it owes an answer. */
  held: boolean;
  lastError?: Error;
  /** Evaluations asked this tick, posted together by #flush (one postMessage, one wake-up). */
  outbox: EvalRequest[];
}

export class PolicyWorkerPool {
  readonly size: number;
  readonly #log: Logger | undefined;
  readonly #threads: Thread[] = [];
  /** Every policy workers must hold, for replacements. */
  readonly #registry = new Map<string, { module: WebAssembly.Module; data: ArrayBuffer | undefined }>();
  #nextId = 1;
  #closed = false;
  #replaced = 0;
  #batches = 0;
  #localRuns = 0;
  #elu = performance.eventLoopUtilization();
  #eluAt = performance.now();
  #idleOfLate = true;
  #lastReplacedAt = -Infinity;

  constructor(o: PolicyWorkerPoolOptions = {}) {
    this.size = o.size ?? Math.max(defaultWorkerCount(), 1);
    if (!Number.isInteger(this.size) || this.size < 1) throw new TypeError(`policy worker pool size must be a positive integer, got ${this.size}`);
    this.#log = o.log;
    for (let i = 0; i < this.size; i++) this.#spawn();
  }

  /** Workers replaced after an unexpected exit, since start. */
  get replaced(): number {
    return this.#replaced;
  }

  /** Evaluations answered on the calling thread because they were alone and no worker was busy (tests, diagnostics). */
  get localRuns(): number {
    return this.#localRuns;
  }

  /** Evaluation messages posted to workers since start, each carrying one tick's evaluations (tests, diagnostics). */
  get batches(): number {
    return this.#batches;
  }

  /** Thread ids of the live workers (tests, diagnostics). */
  get threadIds(): number[] {
    return this.#threads.map((t) => t.id);
  }

  /** Loads a policy into every worker; resolves once each has it (a worker lost meanwhile is replaced with it). */
  async load(key: string, module: WebAssembly.Module, data: ArrayBuffer | undefined): Promise<void> {
    if (this.#closed) throw new Error('policy worker pool is closed');
    this.#registry.set(key, { module, data });
    try {
      await Promise.all(this.#threads.map((t) => this.#loadInto(t, key)));
    } catch (err) {
      this.drop(key);
      throw err;
    }
  }

  /** Forgets a policy in every worker. */
  drop(key: string): void {
    this.#registry.delete(key);
    for (const t of this.#threads) {
      // Evaluations already asked go before the drop, as they were asked.
      this.#flush(t);
      t.loaded.delete(key);
      if (!t.exited) this.#send(t, { t: 'drop', key });
    }
  }

  /**
   * Evaluates an entrypoint on the least busy worker holding `key`; undefined when none holds it
   * (the caller evaluates in-process). Rejects with PolicyWorkerExit if the worker is lost.
   */
  evaluate(key: string, entrypoint: string, input: string | null, local?: () => unknown): Promise<unknown> | undefined {
    let best: Thread | undefined;
    for (const t of this.#threads) {
      if (t.exited || !t.loaded.has(key)) continue;
      if (!best || t.pending.size < best.pending.size) best = t;
    }
    if (!best) return undefined;
    const thread = best;
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject, ...(local ? { local } : {}) });
      this.#hold(thread);
      // Posted with the others asked before this tick's promise jobs have run: at concurrency,
      // one message and one wake-up per batch instead of per call (a postMessage and the
      // worker's wake-up were ~14 % of an ext_authz Check's main-thread time).
      if (thread.outbox.push({ id, key, entrypoint, input }) === 1) queueMicrotask(() => this.#flush(thread));
    });
  }

  /** Whether this thread's event loop was busy less than half the time over the last ~50 ms. */
  #mainThreadIdle(): boolean {
    const now = performance.now();
    if (now - this.#eluAt >= 50) {
      const elu = performance.eventLoopUtilization(this.#elu);
      this.#elu = performance.eventLoopUtilization();
      this.#eluAt = now;
      this.#idleOfLate = elu.utilization < 0.5;
    }
    return this.#idleOfLate;
  }

  #flush(t: Thread): void {
    const items = t.outbox.splice(0);
    if (items.length === 0 || t.exited) return;
    // Alone this tick, no worker busy, and this thread mostly idle of late: a round trip to a
    // worker would only add its latency (at concurrency 1 the main thread waits idle for it), so
    // the caller's own instance answers. Under load the main thread is what bounds throughput,
    // so it keeps handing evaluations off (measured: answering lone ones here at concurrency 16
    // cost a quarter of the decisions per second).
    if (items.length === 1 && this.#mainThreadIdle() && this.#threads.every((x) => x.pending.size === (x === t ? 1 : 0))) {
      const p = t.pending.get(items[0]!.id);
      if (p?.local) {
        t.pending.delete(items[0]!.id);
        this.#hold(t);
        this.#localRuns++;
        try {
          p.resolve(p.local());
        } catch (err) {
          p.reject(err instanceof Error ? err : new Error(String(err)));
        }
        return;
      }
    }
    try {
      this.#send(t, { t: 'evals', items });
      this.#batches++;
    } catch (err) {
      // A worker that cannot be posted to: its calls are refused, nothing left waiting.
      const e = err instanceof Error ? err : new Error(String(err));
      for (const item of items) {
        const p = t.pending.get(item.id);
        t.pending.delete(item.id);
        p?.reject(e);
      }
      this.#hold(t);
    }
  }

  /** Ends one worker as a crash would (diagnostics, tests): its calls in flight are refused and it is replaced. */
  /**
   * Each worker's V8 heap (its own isolate: not in the process's nodejs_heap_* figures), by its
   * place in the pool. A worker that exits while asked is left out.
   */
  async heapStatistics(): Promise<Array<{ index: number; threadId: number; usedBytes: number; totalBytes: number; externalBytes: number }>> {
    const answers = await Promise.all(this.#threads.map(async (t, index) => {
      if (t.exited) return undefined;
      // The answer comes from the worker: keep it referenced until then (an idle one is unref'd).
      t.worker.ref();
      const h = await t.worker.getHeapStatistics().catch(() => undefined).finally(() => { if (!t.held) t.worker.unref(); });
      return h && { index, threadId: t.id, usedBytes: h.used_heap_size, totalBytes: h.total_heap_size, externalBytes: h.external_memory };
    }));
    return answers.filter((a) => a !== undefined);
  }

  async terminateWorker(threadId: number): Promise<void> {
    const t = this.#threads.find((x) => x.id === threadId);
    if (t) await t.worker.terminate();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#threads.splice(0).map((t) => {
      t.exited = true;
      this.#fail(t, new PolicyWorkerExit('policy worker pool closed'));
      return t.worker.terminate();
    }));
  }

  #spawn(): Thread {
    const worker = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const t: Thread = { worker, id: worker.threadId, pending: new Map(), loaded: new Set(), loading: new Map(), exited: false, held: false, outbox: [] };
    worker.on('message', (m: FromWorker) => this.#onMessage(t, m));
    worker.on('error', (err) => { t.lastError = err; });
    worker.on('exit', (code) => this.#onExit(t, code));
    // An idle worker never keeps the process alive on its own; one with work in hand does (#hold).
    worker.unref();
    this.#threads.push(t);
    for (const key of this.#registry.keys()) void this.#loadInto(t, key).catch((err: unknown) => {
      this.#log?.error({ err, key, threadId: t.id }, 'replacement policy worker could not load a policy; it takes no evaluations under it');
    });
    return t;
  }

  #loadInto(t: Thread, key: string): Promise<void> {
    const entry = this.#registry.get(key);
    if (!entry || t.exited) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      t.loading.set(key, { resolve, reject });
      this.#hold(t);
      this.#send(t, { t: 'load', key, module: entry.module, data: entry.data });
    });
  }

  #send(t: Thread, m: ToWorker): void {
    t.worker.postMessage(m);
  }

  /** Keeps the process alive while the worker owes an answer (a load awaited at start, an evaluation). */
  #hold(t: Thread): void {
    const busy = t.pending.size + t.loading.size > 0;
    if (busy === t.held) return;
    t.held = busy;
    if (busy) t.worker.ref();
    else t.worker.unref();
  }

  #onMessage(t: Thread, m: FromWorker): void {
    this.#onAnswer(t, m);
    this.#hold(t);
  }

  #onAnswer(t: Thread, m: FromWorker): void {
    if (m.t === 'results') {
      for (const a of m.items) {
        const p = t.pending.get(a.id);
        if (!p) continue;
        t.pending.delete(a.id);
        if (a.error !== undefined) p.reject(new Error(a.error));
        else p.resolve(a.result);
      }
      return;
    }
    const waiting = t.loading.get(m.key);
    t.loading.delete(m.key);
    if (m.t === 'loaded') {
      // Dropped while loading: the worker must not keep serving it.
      if (this.#registry.has(m.key)) t.loaded.add(m.key);
      else this.#send(t, { t: 'drop', key: m.key });
      waiting?.resolve();
    } else {
      waiting?.reject(new Error(`policy worker ${t.id} cannot load the policy: ${m.message}`));
    }
  }

  #onExit(t: Thread, code: number): void {
    if (t.exited) return;
    t.exited = true;
    const i = this.#threads.indexOf(t);
    if (i >= 0) this.#threads.splice(i, 1);
    const why = `policy worker ${t.id} exited (code ${code}${t.lastError ? `: ${t.lastError.message}` : ''})`;
    this.#fail(t, new PolicyWorkerExit(why));
    // A load in progress completes on the replacement, which loads the registry from scratch.
    for (const w of t.loading.values()) w.resolve();
    t.loading.clear();
    if (this.#closed) return;
    this.#log?.error({ threadId: t.id, code, err: t.lastError }, 'policy worker exited; its in-flight decisions are refused and it is replaced');
    this.#replaced++;
    // Workers dying one after another (a broken environment) are replaced once a second, not in a loop.
    const delay = performance.now() - this.#lastReplacedAt < 1000 ? 1000 : 0;
    this.#lastReplacedAt = performance.now();
    if (delay === 0) this.#spawn();
    else setTimeout(() => { if (!this.#closed) this.#spawn(); }, delay).unref();
  }

  #fail(t: Thread, err: Error): void {
    for (const p of t.pending.values()) p.reject(err);
    t.pending.clear();
  }
}
