// The MCP proxy front end: one Streamable HTTP endpoint (MCP 2024-11-05 to 2025-11-25) in
// front of the upstream servers the loaded policies govern (one, or all of them aggregated). Per request: Host/Origin and HTTP
// method, then the gate's stages (readiness, authentication, body limit and parse), the
// session and protocol-version checks, and handler.ts. Every refusal, the transport's own
// included, is made by the gate and rendered by sendRefusal, as ext_authz renders it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CallerIdentity, Gate, RefusalContext } from '../gate/index.ts';
import { refuseHeaderMismatch } from '../gate/mcp-headers.ts';
import type { ApprovalMode } from '../approvals/index.ts';
import { defaultSeparator, validSeparator } from './catalog.ts';
import { hasStreamCandidate, noStreamMessage, openMergedStream } from './get-stream.ts';
import { handleInitialize, handleMessage, type PostContext, type ProxyContext } from './handler.ts';
import { accepts, header, HttpError, isJsonContentType, normalizeOrigin, readBody, sendJson, sendRefusal } from './http.ts';
import { showEverything, type ListingFilters } from './listings.ts';
import { createProxyMetrics, registerReplayGauges } from './metrics.ts';
import { defaultReplayLimits, ReplayBudget, type ReplayLimits } from './replay.ts';
import { handleStateless, isStatelessRequest, statelessProtocolVersions } from './stateless/index.ts';
import { defaultMaxSessionsPerCaller, SessionStore, type ProxySession } from './session.ts';
import { sseHeaders } from './sse.ts';
import type { UpstreamHeaders } from './upstream.ts';
import { TaskStore, type TaskStoreOptions } from './tasks/store.ts';

/** Protocol versions spoken downstream and upstream, newest first: the one list. */
export const supportedProtocolVersions = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;

export interface McpProxyOptions {
  port?: number;
  host?: string;
  /** Path of the MCP endpoint. Default `/mcp`. */
  path?: string;
  /** The gate every message passes (authentication, limits, decisions, approvals, refusals). */
  gate: Gate;
  /** Credential headers for an upstream server. Default: none. */
  upstreamHeaders?: UpstreamHeaders;
  /** Origins (scheme://host[:port]) allowed to call from a browser; a request with any other Origin gets 403. */
  allowedOrigins?: string[];
  /** When set, the Host header must be one of these (DNS rebinding defence for loopback binds). */
  allowedHosts?: string[];
  /** Handlers tried before the MCP endpoint (e.g. the protected-resource metadata); true = handled. */
  handlers?: Array<(req: IncomingMessage, res: ServerResponse) => boolean>;
  /** Separator of `<server><separator><tool>` names when an endpoint aggregates several servers. Default `__`. */
  separator?: string;
  /**
   * The server `<path>` fronts, with its own tool names and initialize result. Unset: the one
   * server the loaded policies govern, or all of them (prefixed) when there are several.
   * `<path>/<server>` always fronts that server alone.
   */
  server?: string;
  /** Largest SSE event accepted from an upstream, in characters. Default defaultMaxSseEventChars (64 Mi). */
  maxSseEventChars?: number;
  /**
   * What each caller is shown of resources/list, resources/templates/list and prompts/list, per
   * server (the gate's visibleResources, visibleResourceTemplates, visiblePrompts). Default: all.
   */
  listingFilters?: Partial<ListingFilters>;
  /** The replay window of the proxy's own SSE streams (per stream: events, bytes; per session: streams). */
  replay?: Partial<ReplayLimits>;
  /** Replay text kept across every session, in bytes; past it the least recently recording streams are emptied. Default 16 MiB. */
  replayBudgetBytes?: number;
  /** How long a resumable stream whose client went away waits for it to resume (then its request stops). Default 30 s. */
  resumeGraceMs?: number;
  /** Open sessions in all. Default 10 000. */
  maxSessions?: number;
  /** Open sessions per caller (issuer, subject, agent); at the limit its least recently used idle one ends. Default 100. */
  maxSessionsPerCaller?: number;
  /** A session unused this long (and without a GET stream) ends. Default 30 min. */
  sessionIdleMs?: number;
  upstreamTimeoutMs?: number;
  keepAliveMs?: number;
  serverInfo?: { name: string; version: string };
  log?: Logger;
  registry?: Registry;
  /** hold (default): keep a held call open until decided; retry: answer at once with the approval reference. */
  approvalMode?: ApprovalMode;
  /** Keep-alive comments / progress notifications on a held call's stream. Default keepAliveMs. */
  approvalKeepAliveMs?: number;
  /** Task lifetimes and limits for held calls run as tasks (defaults: defaultTaskStoreOptions). */
  tasks?: Partial<TaskStoreOptions>;
}

interface Lifetime {
  signal: AbortSignal;
  detach: () => () => void;
}

interface Route {
  path: string;
  /** Set on `<endpoint>/<server>`. */
  server?: string;
}

export interface McpProxy {
  port: number;
  /** URL of the MCP endpoint. */
  url: string;
  /** Tells clients with an open GET stream to list tools again (call after a bundle swap). */
  notifyToolsChanged(): void;
  sessionCount(): number;
  /**
   * Graceful shutdown: stops accepting connections, lets requests in flight (held calls waiting
   * for approval included) finish for up to `graceMs`, then closes like close(). Long-lived GET
   * streams do not count as in flight: they are cut at the end, and clients resume elsewhere.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startMcpProxy(o: McpProxyOptions): Promise<McpProxy> {
  const separator = o.separator ?? defaultSeparator;
  if (!validSeparator(separator)) throw new TypeError(`separator ${JSON.stringify(separator)} must be 1-8 non-space characters including one that cannot occur in a server name (outside [a-z0-9-])`);
  const { gate } = o;
  const endpoint = o.path ?? '/mcp';
  const log = o.log ?? pino({ level: 'silent' });
  const metrics = o.registry ? createProxyMetrics(o.registry) : undefined;
  const allowedOrigins = new Set((o.allowedOrigins ?? []).map(normalizeOrigin));
  const allowedHosts = o.allowedHosts ? new Set(o.allowedHosts.map((h) => h.toLowerCase())) : undefined;
  const tasks = new TaskStore(o.tasks);
  const replayBudget = new ReplayBudget(o.replayBudgetBytes);
  if (o.registry) registerReplayGauges(o.registry, replayBudget);
  const sessions = new SessionStore({
    maxSessions: o.maxSessions ?? 10_000, maxSessionsPerCaller: o.maxSessionsPerCaller ?? defaultMaxSessionsPerCaller,
    idleTimeoutMs: o.sessionIdleMs ?? 30 * 60_000, log, ...(metrics ? { metrics } : {}),
    holdsWork: (s) => tasks.holds(s.id),
  });
  const ctx: ProxyContext = {
    router: gate.router, gate, sessions, separator,
    upstreamHeaders: o.upstreamHeaders ?? (async () => ({})),
    supportedVersions: supportedProtocolVersions,
    ...(o.server !== undefined ? { server: o.server } : {}),
    ...(o.maxSseEventChars !== undefined ? { maxSseEventChars: o.maxSseEventChars } : {}),
    replayLimits: { ...defaultReplayLimits, ...o.replay },
    replayBudget,
    resumeGraceMs: o.resumeGraceMs ?? 30_000,
    listingFilters: {
      resources: o.listingFilters?.resources ?? showEverything,
      resourceTemplates: o.listingFilters?.resourceTemplates ?? showEverything,
      prompts: o.listingFilters?.prompts ?? showEverything,
    },
    serverInfo: o.serverInfo ?? { name: 'toolgate', version: '0.1.0' },
    keepAliveMs: o.keepAliveMs ?? 15_000,
    upstreamTimeoutMs: o.upstreamTimeoutMs ?? 30_000,
    log, ...(metrics ? { metrics } : {}),
    approvalMode: o.approvalMode ?? 'hold',
    approvalKeepAliveMs: o.approvalKeepAliveMs ?? o.keepAliveMs ?? 15_000,
    tasks,
  };

  /** The session named by MCP-Session-Id, checked against the caller, the path and the protocol version. */
  function sessionFor(req: IncomingMessage, caller: CallerIdentity, path: string): ProxySession {
    const id = header(req, 'mcp-session-id');
    if (!id) throw new HttpError('MCP-Session-Id header required: send initialize first', { status: 400 });
    const s = sessions.get(id);
    // Someone else's session id, or one from another endpoint path, is answered exactly like an unknown one.
    if (!s || !s.belongsTo(caller) || s.path !== path) throw new HttpError('session not found: it ended or expired; initialize a new one', { status: 404 });
    // As the SDK server checks it: absent means the negotiated version (or 2025-03-26, which
    // sent none); any version the proxy speaks is accepted; another one is refused.
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !(supportedProtocolVersions as readonly string[]).includes(version)) {
      throw new HttpError(`MCP-Protocol-Version ${JSON.stringify(version)} is not supported (supported: ${supportedProtocolVersions.join(', ')})`, { status: 400 });
    }
    return s;
  }

  async function post(req: IncomingMessage, res: ServerResponse, rc: RefusalContext, caller: CallerIdentity, life: Lifetime, route: Route): Promise<void> {
    const accept = header(req, 'accept');
    if (!accepts(accept, 'application/json') || !accepts(accept, 'text/event-stream')) {
      throw new HttpError('Accept must include both application/json and text/event-stream', { status: 406 });
    }
    if (!isJsonContentType(header(req, 'content-type'))) throw new HttpError('Content-Type must be application/json', { status: 415 });
    const read = gate.read(await readBody(req, gate.maxBodyBytes), rc);
    if (!read.ok) return sendRefusal(res, read.refusal);
    const msg = read.message;
    // Routers in front may route on Mcp-Method / Mcp-Name; the gate decides on the body: they must agree.
    const mismatch = refuseHeaderMismatch(gate, rc, req.headersDistinct, msg);
    if (mismatch) return sendRefusal(res, mismatch);
    const p: PostContext = { req, res, caller, signal: life.signal, detach: life.detach, rc, path: route.path, ...(route.server !== undefined ? { routeServer: route.server } : {}) };
    // MCP 2026-07-28: no session, the version in each request's _meta (stateless/handler.ts).
    if (isStatelessRequest(req.headersDistinct, msg)) return handleStateless(ctx, p, msg);
    if (msg.kind === 'request' && msg.message.method === 'initialize') {
      if (header(req, 'mcp-session-id')) throw new HttpError('initialize must not carry an MCP-Session-Id header: it starts a new session', { status: 400 });
      return handleInitialize(ctx, p, msg.message);
    }
    const session = sessionFor(req, caller, route.path);
    rc.sessionId = session.id;
    const leave = session.enter();
    try {
      return await handleMessage(ctx, p, session, msg);
    } finally {
      leave();
    }
  }

  async function mcp(req: IncomingMessage, res: ServerResponse, rc: RefusalContext, route: Route): Promise<void> {
    const origin = header(req, 'origin');
    if (allowedHosts && !allowedHosts.has((header(req, 'host') ?? '').toLowerCase())) {
      throw new HttpError(`Host ${JSON.stringify(header(req, 'host') ?? '')} is not allowed`, { status: 403 });
    }
    if (origin !== undefined && !allowedOrigins.has(normalizeOrigin(origin))) {
      throw new HttpError(`Origin ${JSON.stringify(origin)} is not allowed`, { status: 403 });
    }
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version, www-authenticate');
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      // 2026-07-28 clients send Mcp-Method / Mcp-Name, and Mcp-Param-* for tools that declare them.
      const params = (header(req, 'access-control-request-headers') ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => /^mcp-param-[a-z0-9-]+$/.test(h));
      const allowHeaders = ['authorization', 'content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name', ...params].join(', ');
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, DELETE', 'access-control-allow-headers': allowHeaders, 'access-control-max-age': '600' }).end();
      return;
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      throw new HttpError(`HTTP method ${req.method} is not part of MCP Streamable HTTP (POST, GET, DELETE)`, { status: 405, headers: { allow: 'GET, POST, DELETE' } });
    }
    const unavailable = gate.unavailable(rc);
    if (unavailable) return sendRefusal(res, unavailable);
    if (req.method !== 'POST' && hasBody(req)) {
      // GET and DELETE carry no message in Streamable HTTP; one that does is refused rather than
      // ignored, as ext_authz refuses it (Envoy would forward the body upstream undecided).
      throw new HttpError(`HTTP ${req.method} must not carry a body: MCP messages are POSTed`, { status: 400 });
    }
    // Node keeps only the first of repeated Authorization headers; join them as Envoy does, so a
    // second (forged) header is refused as malformed (400 invalid_request) by both front ends.
    const authorization = req.headersDistinct.authorization?.join(',');
    const authenticated = await gate.authenticate({ authorization, url: req.url ?? '/' }, rc);
    if (!authenticated.ok) return sendRefusal(res, authenticated.refusal);
    const caller = authenticated.caller;
    rc.caller = caller;
    // A request stops when its client goes away, unless its answer became resumable (detach).
    const abort = new AbortController();
    let detached = false;
    res.on('close', () => { if (!res.writableFinished && !detached) abort.abort(); });
    const life: Lifetime = { signal: abort.signal, detach: () => { detached = true; return () => abort.abort(); } };
    if (req.method === 'POST') return post(req, res, rc, caller, life, route);
    const mismatch = refuseHeaderMismatch(gate, rc, req.headersDistinct, undefined);
    if (mismatch) return sendRefusal(res, mismatch);
    // 2026-07-28 has no GET stream and no session to DELETE (subscriptions/listen replaces the one).
    if (statelessProtocolVersions.includes(header(req, 'mcp-protocol-version') ?? '')) {
      throw new HttpError(`HTTP ${req.method} is not part of MCP 2026-07-28 Streamable HTTP: POST each request (subscriptions/listen for change notifications)`, { status: 405, headers: { allow: 'POST' } });
    }
    if (req.method === 'GET' && !accepts(header(req, 'accept'), 'text/event-stream')) throw new HttpError('Accept must include text/event-stream', { status: 406 });
    const session = sessionFor(req, caller, route.path);
    rc.sessionId = session.id;
    if (req.method === 'DELETE') {
      await sessions.delete(session);
      log.info({ session: session.id.slice(0, 8) }, 'session ended by client');
      res.writeHead(200).end();
      return;
    }
    const lastEventId = header(req, 'last-event-id');
    if (lastEventId !== undefined) return resumeStream(res, session, lastEventId);
    if (session.getStreamConnected) throw new HttpError('this session already has an open GET stream; only one is allowed', { status: 409 });
    // Refused here, not in get-stream.ts, so the gate meters and audits it like every refusal.
    if (!hasStreamCandidate(session)) throw new HttpError(noStreamMessage, { status: 405, headers: { allow: 'POST, DELETE' } });
    await openMergedStream({ res, session, log, keepAliveMs: ctx.keepAliveMs, reconnectMs: 1_000, graceMs: ctx.resumeGraceMs });
  }

  /** A client's GET with Last-Event-ID: what it missed on that stream, then the rest of it while it runs. */
  function resumeStream(res: ServerResponse, session: ProxySession, lastEventId: string): void {
    const found = session.replay.find(lastEventId);
    if ('error' in found) throw new HttpError(`${found.error}; send the request again`, { status: 400 });
    const { stream, seq } = found;
    log.debug({ session: session.id.slice(0, 8), stream: stream.id, after: seq, live: Boolean(stream.live) }, 'client resumed a stream');
    if (stream.live && !stream.live.closed) return stream.live.attach(res, seq);
    // The stream has ended: what it sent after that event, and the end.
    res.writeHead(200, sseHeaders);
    for (const text of stream.after(seq) ?? []) res.write(text);
    res.end();
  }

  /** `<endpoint>` or `<endpoint>/<server>` (a DNS label); anything else is no MCP route. */
  function routeOf(path: string): Route | undefined {
    if (path === endpoint) return { path };
    if (!path.startsWith(`${endpoint}/`)) return undefined;
    const server = path.slice(endpoint.length + 1);
    return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(server) ? { path, server } : undefined;
  }

  /** A request body is declared (Content-Length above 0, or chunked). */
  function hasBody(req: IncomingMessage): boolean {
    const length = header(req, 'content-length');
    return (length !== undefined && length.trim() !== '0') || header(req, 'transfer-encoding') !== undefined;
  }

  // Requests a graceful drain waits for (POSTs: calls, held ones included; DELETEs).
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  let draining = false;
  const server: Server = createServer((req, res) => {
    res.on('finish', () => metrics?.request(req.method ?? '', res.statusCode));
    // A closed listener still serves kept-alive connections: ask their clients to reconnect
    // (elsewhere) after this answer, so nothing is sent on a connection about to be cut.
    if (draining) res.setHeader('connection', 'close');
    if (req.method !== 'GET') {
      inFlight++;
      res.once('close', () => {
        if (--inFlight === 0) onIdle?.();
      });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') return gate.ready() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not ready', reason: 'no policy bundle loaded' });
    for (const h of o.handlers ?? []) if (h(req, res)) return;
    const route = routeOf(path ?? '/');
    if (!route) return sendJson(res, 404, { error: 'not_found', error_description: `no route ${path}; the MCP endpoint is ${endpoint} (or ${endpoint}/<server> for one server)` });
    // Filled in as the request is read, so a refusal at any point names what is known by then.
    const rc: RefusalContext = { frontEnd: 'proxy', ...(req.method ? { httpMethod: req.method } : {}) };
    mcp(req, res, rc, route).catch((err: unknown) => {
      if (res.headersSent) {
        log.warn({ err: (err as Error).message }, 'request failed after the response started');
        res.destroy();
        return;
      }
      if (err instanceof HttpError && err.status !== undefined) return sendRefusal(res, gate.transportRefusal(rc, err.status, err.message, { headers: { ...err.headers } }));
      log.error({ err }, 'MCP request failed');
      sendRefusal(res, gate.internalError(rc));
    });
  });
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host ?? '127.0.0.1';
  log.info({ port, host, endpoint }, 'MCP proxy listening');
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${endpoint}`,
    notifyToolsChanged() {
      for (const s of sessions.all()) s.deliver?.({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    },
    sessionCount: () => sessions.size,
    async drain(graceMs) {
      draining = true;
      // close() stops the listener at once; the callback is for when every connection is gone.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const idle = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
      const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), graceMs)));
      const ended = await Promise.race([idle, deadline]);
      clearTimeout(timer);
      log.info({ inFlight, drained: ended !== 'deadline' }, ended === 'deadline' ? 'drain period over: closing the requests still in flight' : 'every request in flight answered');
      await sessions.closeAll();
      server.closeAllConnections();
      await closed;
    },
    async close() {
      await sessions.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
