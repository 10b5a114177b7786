// One POSTed JSON-RPC message, after authentication and session checks: the gate admits it,
// then the proxy answers it itself (initialize, ping, tools/list) or relays it to the one
// upstream it belongs to. No decision is taken and no status chosen here: every refusal is the
// gate's, rendered with sendRefusal exactly as ext_authz renders it (see gate/README.md).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isObject } from '../../../pkg/lang/is-object.ts';
import { ErrorCodes, type CallerIdentity, type Gate, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type PolicyRouter, type RefusalContext, type ToolNaming } from '../gate/index.ts';
import type { ApprovalMode } from '../approvals/index.ts';
import { mergeTools } from './catalog.ts';
import { startUpstreamStreams } from './get-stream.ts';
import { cancelHeld, handleHeld } from './held.ts';
import { hasCapability, resourceOwner, type ListingFilters } from './listings.ts';
import { handleOtherRequest, type Decided } from './methods.ts';
import type { TaskStore } from './tasks/store.ts';
import { accepts, header, sendAnswer, sendJson, sendRefusal } from './http.ts';
import type { ProxyMetrics } from './metrics.ts';
import { relayRequest, type ResumeOptions } from './relay.ts';
import type { ReplayBudget, ReplayLimits } from './replay.ts';
import { aggregateInitializeResult } from './identity.ts';
import { ProxySession, type Fronting, type SessionStore } from './session.ts';
import { offerTasks, withTaskCapability } from './tasks/advertise.ts';
import { handleTaskRequest, startAllowedTask } from './tasks/serve.ts';
import { UpstreamError, type UpstreamHeaders } from './upstream.ts';

const answerRecorded = new Set(['resources/read', 'prompts/get']);

export interface ProxyContext {
  router: PolicyRouter;
  gate: Gate;
  sessions: SessionStore;
  upstreamHeaders: UpstreamHeaders;
  separator: string;
  /** The server `<endpoint>` fronts (PROXY_SERVER); unset: the only governed one, else all. */
  server?: string;
  maxSseEventChars?: number;
  /** What each caller is shown of resource, template and prompt listings. */
  listingFilters: ListingFilters;
  replayLimits: ReplayLimits;
  /** Replay text kept across every session (replay.ts). */
  replayBudget: ReplayBudget;
  /** How long a resumable stream whose client went away waits for it (then its request stops). */
  resumeGraceMs: number;
  supportedVersions: readonly string[];
  serverInfo: { name: string; version: string };
  keepAliveMs: number;
  upstreamTimeoutMs: number;
  log: Logger;
  metrics?: ProxyMetrics;
  approvalMode: ApprovalMode;
  /** Keep-alive / progress interval of a held call's stream. */
  approvalKeepAliveMs: number;
  /** This proxy's own tasks (held calls of task-capable clients), bound to session and caller inside. */
  tasks: TaskStore;
}

export interface PostContext {
  req: IncomingMessage;
  res: ServerResponse;
  caller: CallerIdentity;
  signal: AbortSignal;
  /** What the gate's refusals of this request are recorded with. */
  rc: RefusalContext;
  /** The endpoint path the request came on, and the server it names (`<endpoint>/<server>`). */
  path: string;
  routeServer?: string;
  /** The request no longer stops when the client's connection closes; the returned function stops it. */
  detach: () => () => void;
}

/** How a relayed SSE answer is made resumable: ids, the session's replay window, the priming event from 2025-11-25 on. */
export function resumeOf(ctx: ProxyContext, p: PostContext, session: ProxySession): ResumeOptions {
  return { log: session.replay, prime: session.protocolVersion >= '2025-11-25', graceMs: ctx.resumeGraceMs, detach: p.detach };
}

/** A request the proxy itself cannot serve (no such upstream in the session, an unroutable method): 200 and the error. */
export function refuseRequest(ctx: ProxyContext, p: PostContext, id: JsonRpcId, code: number, message: string, what: { method?: string; server?: string; tool?: string } = {}): void {
  sendRefusal(p.res, ctx.gate.refuse(p.rc, { stage: 'message', httpStatus: 200, id, error: { code, message } }, what));
}

/**
 * What an endpoint path fronts: `<endpoint>/<server>` that server; `<endpoint>` the configured
 * server (PROXY_SERVER), else the one server the loaded policies govern, else all of them.
 */
export function frontingFor(ctx: ProxyContext, routeServer: string | undefined): Fronting | { error: string } {
  const governed = [...new Set(ctx.router.servers().filter((s) => s.entry.gateway).map((s) => s.server.name))];
  const named = routeServer ?? ctx.server;
  if (named !== undefined) {
    return governed.includes(named) ? { server: named } : { error: `server "${named}" is not governed by any loaded policy (governed: ${governed.join(', ') || 'none'})` };
  }
  return governed.length === 1 ? { server: governed[0]! } : { aggregate: true, separator: ctx.separator };
}

/** initialize: a new downstream session, with one upstream session per server it fronts. */
export async function handleInitialize(ctx: ProxyContext, p: PostContext, msg: JsonRpcRequest): Promise<void> {
  const fronting = frontingFor(ctx, p.routeServer);
  const naming = 'server' in fronting ? { server: fronting.server } : { separator: ctx.separator };
  const admitted = await ctx.gate.admit({ kind: 'request', message: msg }, { ...p.rc, caller: p.caller, naming });
  if (admitted.kind === 'refuse') return sendRefusal(p.res, admitted.refusal);
  if ('error' in fronting) return refuseRequest(ctx, p, msg.id, ErrorCodes.invalidParams, fronting.error, { method: msg.method, ...(p.routeServer ? { server: p.routeServer } : {}) });
  // Reserved before the upstreams initialize, so concurrent initializes cannot overshoot the limits.
  const room = ctx.sessions.reserve(p.caller);
  if (!room.ok) return sendRefusal(p.res, ctx.gate.transportRefusal(p.rc, room.status, room.message, { id: msg.id, headers: { 'retry-after': '5' } }));
  try {
    await initializeSession(ctx, p, msg, fronting, room);
  } finally {
    room.release();
  }
}

async function initializeSession(ctx: ProxyContext, p: PostContext, msg: JsonRpcRequest, fronting: Fronting, room: { release(): void }): Promise<void> {
  const params = msg.params ?? {};
  const requested = typeof params.protocolVersion === 'string' ? params.protocolVersion : '';
  // Lifecycle: the client's version goes upstream when the proxy speaks it, else the newest it
  // speaks; a fronted server's own choice is what the client is answered.
  const offered = ctx.supportedVersions.includes(requested) ? requested : ctx.supportedVersions[0]!;
  const session = new ProxySession(p.caller, {
    protocolVersion: offered,
    capabilities: isObject(params.capabilities) ? params.capabilities : {},
    clientInfo: isObject(params.clientInfo) ? params.clientInfo : { name: 'unknown', version: '0' },
  }, {
    router: ctx.router, upstreamHeaders: ctx.upstreamHeaders, supportedVersions: ctx.supportedVersions, upstreamTimeoutMs: ctx.upstreamTimeoutMs, log: ctx.log,
    ...(ctx.metrics ? { metrics: ctx.metrics } : {}), ...(ctx.maxSseEventChars ? { maxSseEventChars: ctx.maxSseEventChars } : {}),
    replayLimits: ctx.replayLimits, replayBudget: ctx.replayBudget,
  }, fronting, p.path);
  const ups = session.upstreams();
  const results = await Promise.allSettled(ups.map((u) => u.session.ensure(p.signal)));
  results.forEach((r, i) => {
    // Aggregating, a server that is down now is retried on the next tools/list or call; its tools are absent meanwhile.
    if (r.status === 'rejected') ctx.log.warn({ server: ups[i]!.session.name, err: (r.reason as Error).message }, 'upstream initialize failed');
  });
  let result: Record<string, unknown>;
  if ('server' in fronting) {
    const only = ups[0];
    const failed = results[0]?.status === 'rejected' ? (results[0].reason as Error).message : undefined;
    if (!only?.session.initializeResult) {
      // Fronting one server, the proxy has no identity of its own to answer with.
      await session.close();
      const message = failed ?? `server "${fronting.server}" has no upstream`;
      sendJson(p.res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: ErrorCodes.upstreamUnavailable, message, data: { server: fronting.server } } });
      return;
    }
    result = only.session.initializeResult;
    session.protocolVersion = only.session.protocolVersion;
  } else {
    result = aggregateInitializeResult(offered, ctx.serverInfo, ups.map((u) => ({ server: u.session.name, result: u.session.initializeResult })));
  }
  result = withTaskCapability(result, session);
  ctx.sessions.add(session, room);
  ctx.log.info({ session: session.id.slice(0, 8), agent: p.caller.agent, operator: p.caller.operator, protocolVersion: session.protocolVersion, fronts: session.fronted ?? '(all)', upstreams: ups.length }, 'session initialized');
  sendJson(p.res, 200, { jsonrpc: '2.0', id: msg.id, result }, { 'mcp-session-id': session.id });
}

export async function handleMessage(ctx: ProxyContext, p: PostContext, session: ProxySession, msg: JsonRpcMessage): Promise<void> {
  // The proxy's own tasks (held calls run as tasks) are answered by it; other task ids go on.
  if (await handleTaskRequest(ctx, p, session, msg)) return;
  // Listings are filtered per caller here (methods.ts), so the gate lets them through.
  const admit = (naming: ToolNaming) => ctx.gate.admit(msg, { ...p.rc, caller: p.caller, naming, listings: 'filtered', signal: p.signal });
  let admitted: Awaited<ReturnType<typeof admit>> | undefined;
  // What the request was decided for — a resource's owner, the servers that log — is where it
  // goes (methods.ts): resolved once, so a listing or bundle change in between cannot send a
  // request decided for one server to another, or to one it was never decided for.
  let decided: Decided | undefined;
  if (session.fronted !== undefined) admitted = await admit({ server: session.fronted });
  else {
    // Aggregating: a resource URI or a log level names no server. The server the request will
    // go to is resolved first and the gate decides for exactly that server (every logging one).
    const deciding = await decidingServers(ctx, p, session, msg);
    decided = deciding;
    const servers = deciding?.servers;
    if (servers === undefined) admitted = await admit({ separator: ctx.separator });
    else for (const server of servers) {
      admitted = await admit({ server });
      if (admitted.kind !== 'allow') break;
    }
    // Nothing to decide for (no server logs, or no owner): methods.ts answers or refuses it.
    admitted ??= { kind: 'allow', method: msg.kind === 'request' ? msg.message.method : '', message: msg };
  }
  if (admitted.kind === 'refuse') return sendRefusal(p.res, admitted.refusal);
  if (admitted.kind === 'hold') return handleHeld(ctx, p, session, admitted.held);

  if (msg.kind === 'response') {
    const target = session.takeServerRequest(msg.message.id);
    if (!target) {
      const message = `no pending server request with id ${JSON.stringify(msg.message.id)} in this session`;
      return sendRefusal(p.res, ctx.gate.refuse(p.rc, { stage: 'message', httpStatus: 400, id: null, error: { code: ErrorCodes.invalidRequest, message } }));
    }
    void session.upstream(target.server)?.session.forward({ ...msg.message, id: target.id });
    p.res.writeHead(202).end();
    return;
  }
  if (msg.kind === 'notification') {
    const n = msg.message;
    if (n.method === 'notifications/initialized') {
      await session.markInitialized();
      // Read the servers' GET streams from now on, not from when the client opens its own.
      void startUpstreamStreams(session, ctx.log);
    }
    else if (n.method === 'notifications/cancelled') {
      if (cancelHeld(session, n.params?.requestId)) {
        p.res.writeHead(202).end();
        return;
      }
      const server = session.serverOf(n.params?.requestId);
      if (server) void session.upstream(server)?.session.forward(n);
    } else {
      for (const u of session.upstreams()) if (u.session.ready) void u.session.forward(n);
    }
    p.res.writeHead(202).end();
    return;
  }

  const req = msg.message;
  switch (req.method) {
    case 'initialize':
      return sendRefusal(p.res, ctx.gate.transportRefusal(p.rc, 400, 'this session is already initialized; start a new session without an MCP-Session-Id header', { id: req.id, code: ErrorCodes.invalidRequest }));
    case 'ping':
      sendAnswer(p.res, { jsonrpc: '2.0', id: req.id, result: {} }, answersWithSse(p, session));
      return;
    case 'tools/list':
      return listTools(ctx, p, session, req);
    case 'tools/call': {
      const { server, tool } = admitted.call!;
      const upstream = session.upstream(server);
      if (!upstream) return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `server "${server}" has no upstream in this session`, { method: req.method, server, tool });
      if (await startAllowedTask(ctx, p, session, req, { server, tool })) return;
      const message = { ...req, params: { ...req.params, name: tool } };
      const onAnswer = ctx.gate.answered(admitted);
      return relayRequest({ res: p.res, session, upstream, id: req.id, message, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs, resume: resumeOf(ctx, p, session), ...(onAnswer ? { onAnswer } : {}) });
    }
    default:
      // The answers of reads (a resource's contents, a prompt) are recorded like a tool's.
      return handleOtherRequest(ctx, p, session, req, decided, answerRecorded.has(req.method) ? ctx.gate.answered(admitted) : undefined);
  }
}

async function listTools(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest): Promise<void> {
  if (req.params?.cursor !== undefined) {
    return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, 'params.cursor was not issued by this server: the proxy returns every tool in one page', { method: req.method });
  }
  let failure: unknown;
  const perServer = await Promise.all(session.upstreams().map(async (u) => {
    const server = u.session.name;
    try {
      const tools = await u.catalog.tools(p.signal);
      const dups = u.catalog.duplicates();
      if (dups.length) ctx.log.warn({ server, tools: dups }, 'upstream lists tools more than once; they are withheld');
      return { server, tools: offerTasks(session, u, ctx.gate.visibleTools(server, tools, p.caller)) };
    } catch (err) {
      failure = err;
      ctx.log.warn({ server, err: (err as Error).message }, 'upstream tools/list failed; its tools are left out');
      return { server, tools: [] };
    }
  }));
  // Fronting one server, its own refusal (a server without tools says method not found) is its answer.
  if (session.fronted !== undefined && failure instanceof UpstreamError && failure.rpcError) {
    sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, error: failure.rpcError });
    return;
  }
  // Fronting one server its names are its own; aggregating they are prefixed with the server's.
  const { tools, collisions } = session.fronted !== undefined ? { tools: perServer.flatMap((s) => s.tools), collisions: [] } : mergeTools(perServer, ctx.separator);
  if (collisions.length) ctx.log.warn({ tools: collisions }, 'prefixed tool names collide; they are withheld');
  sendAnswer(p.res, { jsonrpc: '2.0', id: req.id, result: { tools } }, answersWithSse(p, session));
}

const resourceRequests = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

/**
 * On an aggregating endpoint, the servers a request must be decided for when its body names
 * none: the owner of a resource URI (also a completion's ref/resource), every server that logs
 * for logging/setLevel. Undefined: the gate resolves the server from the name (tools, prompts).
 */
async function decidingServers(ctx: ProxyContext, p: PostContext, session: ProxySession, msg: JsonRpcMessage): Promise<Decided | undefined> {
  if (msg.kind !== 'request') return undefined;
  const { method } = msg.message;
  const params = msg.message.params ?? {};
  if (method === 'logging/setLevel') return { servers: session.upstreams().filter((u) => hasCapability(u, 'logging')).map((u) => u.session.name) };
  const ref = isObject(params.ref) ? params.ref : undefined;
  const uri = resourceRequests.has(method) ? params.uri : method === 'completion/complete' && ref?.type === 'ref/resource' ? ref.uri : undefined;
  if (typeof uri !== 'string') return undefined;
  const owner = await resourceOwner(session, uri, ctx.listingFilters, ctx.separator, p.caller, p.signal);
  return { servers: 'error' in owner ? [] : [owner.server], owner };
}

/** Whether the one server this session fronts answers with SSE and the client takes it (sendAnswer). */
export function answersWithSse(p: PostContext, session: ProxySession): boolean {
  if (session.fronted === undefined) return false;
  return (session.upstream(session.fronted)?.session.answersWithSse ?? false) && accepts(header(p.req, 'accept'), 'text/event-stream');
}

