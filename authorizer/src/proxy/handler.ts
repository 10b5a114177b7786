// One POSTed JSON-RPC message, after authentication and session checks: the gate admits it,
// then the proxy answers it itself (initialize, ping, tools/list) or relays it to the one
// upstream it belongs to. No decision is taken and no status chosen here: every refusal is the
// gate's, rendered with sendRefusal exactly as ext_authz renders it (see gate/README.md).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isObject } from '../../../pkg/lang/is-object.ts';
import { ErrorCodes, type CallerIdentity, type Gate, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type PolicyRouter, type RefusalContext } from '../gate/index.ts';
import type { ApprovalMode } from '../approvals/index.ts';
import { mergeTools } from './catalog.ts';
import { cancelHeld, handleHeld } from './held.ts';
import { sendJson, sendRefusal } from './http.ts';
import type { ProxyMetrics } from './metrics.ts';
import { relayRequest } from './relay.ts';
import { ProxySession, type SessionStore } from './session.ts';
import type { UpstreamHeaders } from './upstream.ts';

export interface ProxyContext {
  router: PolicyRouter;
  gate: Gate;
  sessions: SessionStore;
  upstreamHeaders: UpstreamHeaders;
  separator: string;
  supportedVersions: readonly string[];
  serverInfo: { name: string; version: string };
  keepAliveMs: number;
  upstreamTimeoutMs: number;
  log: Logger;
  metrics?: ProxyMetrics;
  approvalMode: ApprovalMode;
  /** Keep-alive / progress interval of a held call's stream. */
  approvalKeepAliveMs: number;
}

export interface PostContext {
  req: IncomingMessage;
  res: ServerResponse;
  caller: CallerIdentity;
  signal: AbortSignal;
  /** What the gate's refusals of this request are recorded with. */
  rc: RefusalContext;
}

/** A request the proxy itself cannot serve (no such upstream in the session, an unroutable method): 200 and the error. */
export function refuseRequest(ctx: ProxyContext, p: PostContext, id: JsonRpcId, code: number, message: string, what: { method?: string; server?: string; tool?: string } = {}): void {
  sendRefusal(p.res, ctx.gate.refuse(p.rc, { stage: 'message', httpStatus: 200, id, error: { code, message } }, what));
}

/** initialize: a new downstream session, one upstream session per governed server. */
export async function handleInitialize(ctx: ProxyContext, p: PostContext, msg: JsonRpcRequest): Promise<void> {
  const admitted = await ctx.gate.admit({ kind: 'request', message: msg }, { ...p.rc, caller: p.caller, naming: { separator: ctx.separator } });
  if (admitted.kind === 'refuse') return sendRefusal(p.res, admitted.refusal);
  const params = msg.params ?? {};
  if (ctx.sessions.full) {
    return sendRefusal(p.res, ctx.gate.transportRefusal(p.rc, 503, 'too many open sessions; retry later', { id: msg.id, headers: { 'retry-after': '5' } }));
  }
  const requested = typeof params.protocolVersion === 'string' ? params.protocolVersion : '';
  // Lifecycle: answer the client's version when supported, else the newest one we speak.
  const protocolVersion = ctx.supportedVersions.includes(requested) ? requested : ctx.supportedVersions[0]!;
  const session = new ProxySession(p.caller, {
    protocolVersion,
    capabilities: isObject(params.capabilities) ? params.capabilities : {},
    clientInfo: isObject(params.clientInfo) ? params.clientInfo : { name: 'unknown', version: '0' },
  }, { router: ctx.router, upstreamHeaders: ctx.upstreamHeaders, supportedVersions: ctx.supportedVersions, upstreamTimeoutMs: ctx.upstreamTimeoutMs, log: ctx.log, ...(ctx.metrics ? { metrics: ctx.metrics } : {}) });
  ctx.sessions.add(session);
  const ups = session.upstreams();
  const results = await Promise.allSettled(ups.map((u) => u.session.ensure(p.signal)));
  results.forEach((r, i) => {
    // A server that is down now is retried on the next tools/list or call; its tools are absent meanwhile.
    if (r.status === 'rejected') ctx.log.warn({ server: ups[i]!.session.name, err: (r.reason as Error).message }, 'upstream initialize failed');
  });
  ctx.log.info({ session: session.id.slice(0, 8), agent: p.caller.agent, operator: p.caller.operator, protocolVersion, upstreams: ups.length }, 'session initialized');
  sendJson(p.res, 200, {
    jsonrpc: '2.0', id: msg.id,
    result: { protocolVersion, capabilities: { tools: { listChanged: true } }, serverInfo: ctx.serverInfo },
  }, { 'mcp-session-id': session.id });
}

export async function handleMessage(ctx: ProxyContext, p: PostContext, session: ProxySession, msg: JsonRpcMessage): Promise<void> {
  const admitted = await ctx.gate.admit(msg, { ...p.rc, caller: p.caller, naming: { separator: ctx.separator }, signal: p.signal });
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
    if (n.method === 'notifications/initialized') await session.markInitialized();
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
      sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: {} });
      return;
    case 'tools/list':
      return listTools(ctx, p, session, req);
    case 'tools/call': {
      const { server, tool } = admitted.call!;
      const upstream = session.upstream(server);
      if (!upstream) return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `server "${server}" has no upstream in this session`, { method: req.method, server, tool });
      const message = { ...req, params: { ...req.params, name: tool } };
      return relayRequest({ res: p.res, session, upstream, id: req.id, message, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs });
    }
    default: {
      // A method an operator let through (passMethods): routable only when there is one server.
      const ups = session.upstreams();
      if (ups.length !== 1) return refuseRequest(ctx, p, req.id, ErrorCodes.methodNotFound, `method "${req.method}" cannot be routed: it names no tool and ${ups.length} upstream servers are behind this endpoint`, { method: req.method });
      return relayRequest({ res: p.res, session, upstream: ups[0]!, id: req.id, message: { ...req }, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs });
    }
  }
}

async function listTools(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest): Promise<void> {
  if (req.params?.cursor !== undefined) {
    return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, 'params.cursor was not issued by this server: the proxy returns every tool in one page', { method: req.method });
  }
  const perServer = await Promise.all(session.upstreams().map(async (u) => {
    const server = u.session.name;
    try {
      const tools = await u.catalog.tools(p.signal);
      const dups = u.catalog.duplicates();
      if (dups.length) ctx.log.warn({ server, tools: dups }, 'upstream lists tools more than once; they are withheld');
      return { server, tools: ctx.gate.visibleTools(server, tools, p.caller) };
    } catch (err) {
      ctx.log.warn({ server, err: (err as Error).message }, 'upstream tools/list failed; its tools are left out');
      return { server, tools: [] };
    }
  }));
  const { tools, collisions } = mergeTools(perServer, ctx.separator);
  if (collisions.length) ctx.log.warn({ tools: collisions }, 'prefixed tool names collide; they are withheld');
  sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: { tools } });
}
