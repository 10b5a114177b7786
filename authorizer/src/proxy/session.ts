// Downstream sessions. One per MCP client, identified by a random MCP-Session-Id the proxy
// issues, bound to the caller that created it (another caller presenting the id is told the
// session does not exist), holding one upstream session per governed server.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { CallerIdentity, GatewayConfig, GatewayServer, JsonRpcId, PolicyRouter } from '../gate/index.ts';
import { ToolCatalog } from './catalog.ts';
import { ReplayLog, type ReplayBudget, type ReplayLimits } from './replay.ts';
import type { ProxyMetrics } from './metrics.ts';
import { UpstreamSession, type ClientInit, type UpstreamHeaders } from './upstream.ts';

export interface Upstream {
  session: UpstreamSession;
  catalog: ToolCatalog;
  policy: GatewayConfig['policy'];
}

export interface SessionDeps {
  router: PolicyRouter;
  upstreamHeaders: UpstreamHeaders;
  supportedVersions: readonly string[];
  upstreamTimeoutMs: number;
  log: Logger;
  metrics?: ProxyMetrics;
  /** Largest SSE event accepted from an upstream, in characters (default defaultMaxSseEventChars). */
  maxSseEventChars?: number;
  /** The replay window of the session's own SSE streams. Default defaultReplayLimits. */
  replayLimits?: ReplayLimits;
  /** What the replay windows of every session keep in all. */
  replayBudget?: ReplayBudget;
}

/**
 * What a session's endpoint fronts: one server (its own tool and prompt names, its initialize
 * result) or every governed server (names prefixed, capabilities merged).
 */
export type Fronting = { server: string } | { aggregate: true; separator: string };

/** Messages for the client that arrive outside a request's own stream go here (the GET stream). */
export type Deliver = (message: Record<string, unknown>) => void;

const maxPendingServerRequests = 1000;
/** Server messages kept for a client that has not opened its GET stream yet. */
const maxHeldMessages = 100;
const idKey = (id: unknown) => JSON.stringify(id);
const callerKey = (c: CallerIdentity) => JSON.stringify([c.issuer, c.subject, c.agent ?? '']);

export class ProxySession {
  readonly id = randomBytes(32).toString('base64url');
  /** The version answered to the client: the upstream's choice when one server is fronted. */
  protocolVersion: string;
  readonly init: ClientInit;
  readonly fronting: Fronting;
  /** The endpoint path the session was initialized on; it is used on that path only. */
  readonly path: string;
  /** The session's recent SSE streams, for clients that resume with Last-Event-ID. */
  readonly replay: ReplayLog;
  readonly #caller: string;
  readonly #deps: SessionDeps;
  readonly #upstreams = new Map<string, Upstream>();
  /** Downstream id → upstream id, for requests servers send to the client (sampling, elicitation, roots). */
  readonly #serverRequests = new Map<string, { server: string; id: JsonRpcId; downstreamId: string }>();
  readonly #serverRequestsByUpstream = new Map<string, string>();
  /** Client request id → server it went to, so notifications/cancelled reaches the right one. */
  readonly #inflight = new Map<string, string>();
  readonly #closers = new Set<() => void>();
  #seq = 0;
  clientInitialized = false;
  lastSeen = Date.now();
  readonly #held: Record<string, unknown>[] = [];
  /** Set while the session's GET stream runs (its client connected, or away for less than the resume grace). */
  deliver: Deliver | undefined;
  /** The GET stream's writer while it runs. */
  getWriter: { readonly connected: boolean; close(): void } | undefined;

  constructor(caller: CallerIdentity, init: ClientInit, deps: SessionDeps, fronting: Fronting, path: string) {
    this.#caller = callerKey(caller);
    this.init = init;
    this.fronting = fronting;
    this.path = path;
    this.replay = new ReplayLog(deps.replayLimits, deps.replayBudget);
    this.protocolVersion = init.protocolVersion;
    this.#deps = deps;
  }

  /** Whether a client is connected to the session's GET stream now. */
  get getStreamConnected(): boolean {
    return this.getWriter?.connected ?? false;
  }

  belongsTo(caller: CallerIdentity): boolean {
    return this.#caller === callerKey(caller);
  }

  /** The caller the session is bound to, as the store counts sessions per caller. */
  get owner(): string {
    return this.#caller;
  }

  /** A request is running in it or its GET stream is attached: evicting it would cut off a client at work. */
  get busy(): boolean {
    return this.#active > 0 || this.#inflight.size > 0 || this.deliver !== undefined;
  }

  #active = 0;

  /** Marks the session busy while one request of its client runs; call the returned function when it ends. */
  enter(): () => void {
    this.#active++;
    let left = false;
    return () => {
      if (!left) this.#active--;
      left = true;
    };
  }

  /** The one server this session fronts; undefined when it aggregates every governed server. */
  get fronted(): string | undefined {
    return 'server' in this.fronting ? this.fronting.server : undefined;
  }

  /**
   * The upstreams of every server the loaded policies govern now. Bundles change under a live
   * session: a new server gets an upstream session, one whose URL changed gets a fresh one, and
   * one no longer governed is closed.
   */
  upstreams(): Upstream[] {
    const current = new Map<string, { server: GatewayServer; policy: GatewayConfig['policy'] }>();
    for (const { entry, server } of this.#deps.router.servers()) {
      if (this.fronted !== undefined && server.name !== this.fronted) continue;
      if (entry.gateway && !current.has(server.name)) current.set(server.name, { server, policy: entry.gateway.policy });
    }
    for (const [name, u] of this.#upstreams) {
      const now = current.get(name);
      if (!now || now.server.url !== u.session.server.url) {
        this.#upstreams.delete(name);
        void u.session.close();
      }
    }
    for (const [name, { server, policy }] of current) {
      if (this.#upstreams.has(name)) continue;
      const session = new UpstreamSession({
        server, policy, headers: this.#deps.upstreamHeaders, init: this.init, supportedVersions: this.#deps.supportedVersions,
        timeoutMs: this.#deps.upstreamTimeoutMs, onMessage: (s, m) => this.#undelivered(s, m), log: this.#deps.log,
        ...(this.#deps.metrics ? { metrics: this.#deps.metrics } : {}),
        ...(this.#deps.maxSseEventChars ? { maxSseEventChars: this.#deps.maxSseEventChars } : {}),
      });
      session.clientInitialized = this.clientInitialized;
      this.#upstreams.set(name, { session, catalog: new ToolCatalog(session), policy });
    }
    return [...this.#upstreams.values()];
  }

  /**
   * A server message outside any relayed request: to the GET stream if open, else kept (the
   * newest maxHeldMessages) until the client opens one — a server asking for sampling or
   * elicitation just before the client's GET stream arrives must not be lost on the way.
   */
  #undelivered(server: string, m: Record<string, unknown>): void {
    const out = this.fromUpstream(server, m);
    if (this.deliver) return this.deliver(out);
    if (this.#held.length >= maxHeldMessages) {
      const dropped = this.#held.shift();
      this.#deps.log.warn({ server, method: dropped?.method }, 'no GET stream open for a while; oldest held server message dropped');
    }
    this.#held.push(out);
  }

  /** A message from an upstream's GET stream (read from initialization on: get-stream.ts). */
  receive(server: string, m: Record<string, unknown>): void {
    this.#undelivered(server, m);
  }

  /** The client's GET stream is open: it gets what was held, then everything as it comes. */
  attach(deliver: Deliver): void {
    this.deliver = deliver;
    for (const m of this.#held.splice(0)) deliver(m);
  }

  /** Upstreams whose GET stream this session reads. */
  readonly pumped = new Set<string>();

  upstream(server: string): Upstream | undefined {
    return this.upstreams().find((u) => u.session.name === server);
  }

  /**
   * The client sent notifications/initialized: pass it on, now and to upstreams initialized
   * later. Servers commonly register tools once they know the client's capabilities and say so
   * on a GET stream the client may not have opened yet, so cached lists are dropped here.
   */
  async markInitialized(): Promise<void> {
    this.clientInitialized = true;
    await Promise.all([...this.#upstreams.values()].map(async (u) => {
      u.session.clientInitialized = true;
      if (u.session.ready) await u.session.notify('notifications/initialized');
      u.catalog.invalidate();
    }));
  }

  trackRequest(id: JsonRpcId, server: string): void {
    this.#inflight.set(idKey(id), server);
  }

  untrackRequest(id: JsonRpcId): void {
    this.#inflight.delete(idKey(id));
  }

  serverOf(id: unknown): string | undefined {
    return this.#inflight.get(idKey(id));
  }

  /**
   * Rewrites a server→client message for the client. Requests get a session-unique id (two servers may both use id 1)
   * remembered for the client's answer; tools/list_changed drops the server's cached list.
   */
  fromUpstream(server: string, m: Record<string, unknown>): Record<string, unknown> {
    let out = m;
    if (typeof m.method === 'string') {
      if ('id' in m) {
        // A client that never answers must not grow the map without bound: the oldest go first.
        if (this.#serverRequests.size >= maxPendingServerRequests) this.#forgetServerRequest(this.#serverRequests.keys().next().value!);
        const downstreamId = `${server}:${++this.#seq}`;
        const entry = { server, id: m.id as JsonRpcId, downstreamId };
        this.#serverRequests.set(downstreamId, entry);
        this.#serverRequestsByUpstream.set(`${server}\0${idKey(m.id)}`, downstreamId);
        out = { ...m, id: downstreamId };
      } else if (m.method === 'notifications/tools/list_changed') {
        this.#upstreams.get(server)?.catalog.invalidate();
      } else if (m.method === 'notifications/cancelled') {
        const params = (m.params ?? {}) as Record<string, unknown>;
        const key = `${server}\0${idKey(params.requestId)}`;
        const downstreamId = this.#serverRequestsByUpstream.get(key);
        if (downstreamId !== undefined) {
          this.#forgetServerRequest(downstreamId);
          out = { ...m, params: { ...params, requestId: downstreamId } };
        }
      }
    }
    return out;
  }

  /** The upstream request a client response answers; consumed (a response is accepted once). */
  takeServerRequest(id: unknown): { server: string; id: JsonRpcId } | undefined {
    if (typeof id !== 'string') return undefined;
    const entry = this.#serverRequests.get(id);
    if (!entry) return undefined;
    this.#forgetServerRequest(id);
    return entry;
  }

  #forgetServerRequest(downstreamId: string): void {
    const e = this.#serverRequests.get(downstreamId);
    if (!e) return;
    this.#serverRequests.delete(downstreamId);
    this.#serverRequestsByUpstream.delete(`${e.server}\0${idKey(e.id)}`);
  }

  /** Runs `fn` when the session ends (e.g. to end its GET stream); returns the unregister function. */
  onClose(fn: () => void): () => void {
    this.#closers.add(fn);
    return () => this.#closers.delete(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.#closers) fn();
    this.#closers.clear();
    this.replay.close();
    const ups = [...this.#upstreams.values()];
    this.#upstreams.clear();
    await Promise.allSettled(ups.map((u) => u.session.close()));
  }
}

/** Sessions one caller may hold by default: far above one agent's needs, far below the store's 10 000. */
export const defaultMaxSessionsPerCaller = 100;

export interface SessionStoreOptions {
  maxSessions: number;
  /**
   * Sessions one caller (issuer, subject, agent) may hold. At the limit its least recently used
   * idle session makes room (MCP clients commonly go away without DELETE); when none is idle
   * the new one is refused. Without it one caller could take every slot of maxSessions.
   */
  maxSessionsPerCaller: number;
  idleTimeoutMs: number;
  log: Logger;
  metrics?: ProxyMetrics;
  onEvict?: (s: ProxySession) => void;
  /** Work outside the session's requests that ending it would lose (its tasks): such a session is never evicted for room. */
  holdsWork?: (s: ProxySession) => boolean;
}

/** Room for one more session, held from the initialize check until add() (or release()). */
export type SessionReservation = { ok: true; release(): void } | { ok: false; status: 429 | 503; message: string };

export class SessionStore {
  readonly #sessions = new Map<string, ProxySession>();
  /** Per caller, its sessions in the order they were last seen (oldest first). */
  readonly #byCaller = new Map<string, Set<ProxySession>>();
  /** Initializes admitted and not yet added: they count against both limits while upstreams initialize. */
  readonly #pending = new Map<string, number>();
  #pendingTotal = 0;
  readonly #o: SessionStoreOptions;
  readonly #sweeper: NodeJS.Timeout;

  constructor(o: SessionStoreOptions) {
    this.#o = o;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, Math.max(1_000, o.idleTimeoutMs / 4))).unref();
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** How many sessions `caller` holds now. */
  countOf(caller: CallerIdentity): number {
    return this.#byCaller.get(callerKey(caller))?.size ?? 0;
  }

  all(): IterableIterator<ProxySession> {
    return this.#sessions.values();
  }

  /**
   * Whether `caller` may open one more session. At its own limit its least recently used idle
   * session is ended to make room; a caller whose every session is busy, or a full store, is refused.
   */
  reserve(caller: CallerIdentity): SessionReservation {
    const key = callerKey(caller);
    const limit = this.#o.maxSessionsPerCaller;
    const mine = this.#byCaller.get(key);
    const pending = this.#pending.get(key) ?? 0;
    if ((mine?.size ?? 0) + pending >= limit) {
      let idle: ProxySession | undefined;
      for (const s of mine ?? []) {
        if (!s.busy && !this.#o.holdsWork?.(s)) {
          idle = s;
          break;
        }
      }
      if (!idle || pending >= limit) {
        return { ok: false, status: 429, message: `this caller has ${limit} open sessions, the per-caller limit, and none is idle; end unused ones with DELETE or retry later` };
      }
      this.#o.log.info({ session: idle.id.slice(0, 8), limit }, 'least recently used idle session ended: its caller reached the per-caller session limit');
      this.#o.metrics?.sessionEvicted?.('caller-limit');
      void this.delete(idle);
    }
    if (this.#sessions.size + this.#pendingTotal >= this.#o.maxSessions) {
      return { ok: false, status: 503, message: 'too many open sessions; retry later' };
    }
    this.#pending.set(key, pending + 1);
    this.#pendingTotal++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#pendingTotal--;
        const n = (this.#pending.get(key) ?? 1) - 1;
        if (n > 0) this.#pending.set(key, n);
        else this.#pending.delete(key);
      },
    };
  }

  /** Adds a session; `reservation` (from reserve()) is consumed in the same step, so the place is never counted twice. */
  add(s: ProxySession, reservation?: { release(): void }): void {
    reservation?.release();
    this.#sessions.set(s.id, s);
    let mine = this.#byCaller.get(s.owner);
    if (!mine) this.#byCaller.set(s.owner, (mine = new Set()));
    mine.add(s);
    this.#o.metrics?.sessions(1);
  }

  get(id: string): ProxySession | undefined {
    const s = this.#sessions.get(id);
    if (s) {
      s.lastSeen = Date.now();
      // Most recently used last: the caller's eviction candidate is the first idle one.
      const mine = this.#byCaller.get(s.owner);
      if (mine) {
        mine.delete(s);
        mine.add(s);
      }
    }
    return s;
  }

  async delete(s: ProxySession): Promise<void> {
    if (!this.#sessions.delete(s.id)) return;
    const mine = this.#byCaller.get(s.owner);
    mine?.delete(s);
    if (mine && mine.size === 0) this.#byCaller.delete(s.owner);
    this.#o.metrics?.sessions(-1);
    this.#o.onEvict?.(s);
    await s.close();
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.allSettled([...this.#sessions.values()].map((s) => this.delete(s)));
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#o.idleTimeoutMs;
    for (const s of this.#sessions.values()) {
      if (s.lastSeen < cutoff && !s.deliver) {
        this.#o.log.info({ session: s.id.slice(0, 8) }, 'idle session expired');
        void this.delete(s);
      }
    }
  }
}
