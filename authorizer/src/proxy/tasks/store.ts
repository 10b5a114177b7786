// The proxy's own MCP tasks (2025-11-25 `tasks`): a held tools/call a client asked to run as a
// task becomes one, whose status follows its ApprovalRequest. The store is process-wide, but a
// task is only ever found by the session AND the caller that created it: anyone else presenting
// its id is told what an unknown id is told, so ids leak nothing. Ids are 192 random bits behind
// a prefix no upstream's ids are mistaken for (see isProxyTaskId).
import { randomBytes } from 'node:crypto';

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
const terminal: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);
export const isTerminal = (s: TaskStatus): boolean => terminal.has(s);

/** The prefix of every id this proxy issues; an id carrying it is never relayed to an upstream. */
export const proxyTaskIdPrefix = 'toolgate-task-';
export const isProxyTaskId = (id: unknown): id is string => typeof id === 'string' && id.startsWith(proxyTaskIdPrefix);

/** What tasks/result answers: the underlying call's result, or its JSON-RPC error. */
export type TaskOutcome = { result: Record<string, unknown> } | { error: { code: number; message: string; data?: unknown } };

/** The spec's Task object, as tasks/get, tasks/list and tasks/cancel answer it. */
export interface TaskView {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttl: number;
  pollInterval: number;
}

export interface TaskOwner {
  session: string;
  /** The caller's identity key (issuer, subject, agent). */
  caller: string;
}

export interface TaskStoreOptions {
  /** Lifetime when the client asks none, and the most it may ask (ms). */
  defaultTtlMs: number;
  maxTtlMs: number;
  pollIntervalMs: number;
  /** Tasks still running one session may hold; more are refused. */
  maxPerSession: number;
  /** Ended tasks (and their results) one session keeps before its oldest ended ones are forgotten. */
  maxFinishedPerSession: number;
  now?: () => number;
}

export const defaultTaskStoreOptions: TaskStoreOptions = { defaultTtlMs: 3_600_000, maxTtlMs: 86_400_000, pollIntervalMs: 2_000, maxPerSession: 100, maxFinishedPerSession: 100 };

export class TaskLimitError extends Error {
  override name = 'TaskLimitError';
}

interface Entry {
  view: TaskView;
  owner: TaskOwner;
  expiresAt: number;
  outcome?: TaskOutcome;
  /** Stops the task's work (approval wait or upstream call). */
  abort: AbortController;
  settled: Promise<void>;
  settle: () => void;
}

export class TaskStore {
  readonly #o: TaskStoreOptions;
  readonly #tasks = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(o: Partial<TaskStoreOptions> = {}) {
    this.#o = { ...defaultTaskStoreOptions, ...o };
    this.#now = o.now ?? Date.now;
  }

  /** A new task in status `working`; the requested ttl is honoured up to maxTtlMs. */
  create(owner: TaskOwner, requestedTtl: unknown): { taskId: string; signal: AbortSignal } {
    this.#sweep();
    const mine = [...this.#tasks].filter(([, e]) => e.owner.session === owner.session);
    const open = mine.filter(([, e]) => !isTerminal(e.view.status)).length;
    if (open >= this.#o.maxPerSession) throw new TaskLimitError(`this session already runs ${open} tasks (at most ${this.#o.maxPerSession}); wait for some to end`);
    // Map order is creation order: the oldest ended tasks go first.
    const finished = mine.filter(([, e]) => isTerminal(e.view.status));
    for (const [id] of finished.slice(0, Math.max(0, finished.length - this.#o.maxFinishedPerSession))) this.#remove(id);
    const ttl = typeof requestedTtl === 'number' && Number.isFinite(requestedTtl) && requestedTtl > 0 ? Math.min(Math.floor(requestedTtl), this.#o.maxTtlMs) : this.#o.defaultTtlMs;
    const taskId = proxyTaskIdPrefix + randomBytes(24).toString('base64url');
    const at = new Date(this.#now()).toISOString();
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const abort = new AbortController();
    this.#tasks.set(taskId, {
      view: { taskId, status: 'working', createdAt: at, lastUpdatedAt: at, ttl, pollInterval: this.#o.pollIntervalMs },
      owner, expiresAt: this.#now() + ttl, abort, settled, settle,
    });
    this.#perSession.set(owner.session, (this.#perSession.get(owner.session) ?? 0) + 1);
    return { taskId, signal: abort.signal };
  }

  /** The task, for its owner only; undefined for an unknown, expired or someone else's id. */
  get(taskId: unknown, owner: TaskOwner): TaskView | undefined {
    const e = this.#entry(taskId, owner);
    return e ? { ...e.view } : undefined;
  }

  list(owner: TaskOwner): TaskView[] {
    this.#sweep();
    return [...this.#tasks.values()].filter((e) => sameOwner(e.owner, owner)).map((e) => ({ ...e.view }));
  }

  /** A non-terminal status change (working ↔ input_required, a new message); ignored once terminal. */
  update(taskId: string, status: 'working' | 'input_required', statusMessage: string): void {
    const e = this.#tasks.get(taskId);
    if (!e || isTerminal(e.view.status)) return;
    this.#set(e, status, statusMessage);
  }

  /** The task ends with this outcome; the first end wins (a cancelled task stays cancelled). */
  finish(taskId: string, status: 'completed' | 'failed', statusMessage: string, outcome: TaskOutcome): void {
    const e = this.#tasks.get(taskId);
    if (!e || isTerminal(e.view.status)) return;
    e.outcome = outcome;
    this.#set(e, status, statusMessage);
    e.settle();
  }

  /** tasks/cancel: the task's work stops and it is cancelled; an error text when it cannot be. */
  cancel(taskId: unknown, owner: TaskOwner, reason: string): { task: TaskView } | { error: string } | undefined {
    const e = this.#entry(taskId, owner);
    if (!e) return undefined;
    if (isTerminal(e.view.status)) return { error: `task ${e.view.taskId} is already ${e.view.status}` };
    e.outcome = { error: { code: -32603, message: `the task was cancelled: ${reason}` } };
    this.#set(e, 'cancelled', reason);
    e.abort.abort(Object.assign(new Error(reason), { name: 'AbortError' }));
    e.settle();
    return { task: { ...e.view } };
  }

  /** tasks/result: waits until the task ends (or `signal` aborts); undefined for an id the owner does not have. */
  async outcome(taskId: unknown, owner: TaskOwner, signal?: AbortSignal): Promise<{ task: TaskView; outcome: TaskOutcome } | undefined> {
    const e = this.#entry(taskId, owner);
    if (!e) return undefined;
    if (!isTerminal(e.view.status)) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason as Error);
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void e.settled.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    return { task: { ...e.view }, outcome: e.outcome! };
  }

  /** Whether the session has tasks (running, or ended with a result still to fetch). */
  holds(session: string): boolean {
    return this.#perSession.has(session);
  }

  /** Tasks kept per session, so holds() costs the same however many tasks there are. */
  readonly #perSession = new Map<string, number>();

  #remove(id: string): void {
    const e = this.#tasks.get(id);
    if (!e) return;
    this.#tasks.delete(id);
    const n = (this.#perSession.get(e.owner.session) ?? 1) - 1;
    if (n > 0) this.#perSession.set(e.owner.session, n);
    else this.#perSession.delete(e.owner.session);
  }

  /** The session ended: its tasks' work stops and they are forgotten. */
  dropSession(session: string): void {
    for (const [id, e] of this.#tasks) {
      if (e.owner.session !== session) continue;
      e.abort.abort(Object.assign(new Error('the session ended'), { name: 'AbortError' }));
      this.#remove(id);
    }
  }

  get size(): number {
    return this.#tasks.size;
  }

  #entry(taskId: unknown, owner: TaskOwner): Entry | undefined {
    if (!isProxyTaskId(taskId)) return undefined;
    const e = this.#tasks.get(taskId);
    if (!e || !sameOwner(e.owner, owner)) return undefined;
    if (e.expiresAt <= this.#now()) {
      this.#expire(taskId, e);
      return undefined;
    }
    return e;
  }

  #set(e: Entry, status: TaskStatus, statusMessage: string): void {
    e.view.status = status;
    e.view.statusMessage = statusMessage;
    e.view.lastUpdatedAt = new Date(this.#now()).toISOString();
  }

  #expire(id: string, e: Entry): void {
    e.abort.abort(Object.assign(new Error('the task expired'), { name: 'AbortError' }));
    // A tasks/result still waiting on it is answered rather than left hanging.
    e.outcome ??= { error: { code: -32603, message: `task ${id} expired (ttl ${e.view.ttl} ms)` } };
    e.settle();
    this.#remove(id);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, e] of this.#tasks) if (e.expiresAt <= now) this.#expire(id, e);
  }
}

const sameOwner = (a: TaskOwner, b: TaskOwner) => a.session === b.session && a.caller === b.caller;
