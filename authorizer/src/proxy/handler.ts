// One POSTed JSON-RPC message, after authentication and session checks: the decision path
// gates it, then the proxy answers it itself (initialize, ping, tools/list) or relays it to the
// one upstream it belongs to. No decision is taken here: every refusal is the GateResult's.
//
// HTTP statuses: a refused *request* is answered with HTTP 200 and a JSON-RPC error (MCP
// clients read errors from the JSON-RPC body), except insufficient scope, which is answered
// 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope=..., resource_metadata=...`
// so a client can step up its authorization. A refused notification or response has no
// JSON-RPC reply, so it gets the GateResult's HTTP status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ErrorCodes, type CallerIdentity, type DecisionPath, type GateResult, type JsonRpcMessage, type JsonRpcRequest, type PolicyRouter } from '../gate/index.ts';
import type { ApprovalCoordinator, ApprovalMode } from '../approvals/index.ts';
import { insufficientScope } from '../identity/index.ts';
import { mergeTools, splitName } from './catalog.ts';
import { cancelHeld, handleHeld } from './held.ts';
import { sendJson, sendJsonRpcError } from './http.ts';
import type { ProxyMetrics } from './metrics.ts';
import { answerError, relayRequest } from './relay.ts';
import { ProxySession, type SessionStore } from './session.ts';
import type { UpstreamHeaders } from './upstream.ts';

export interface ProxyContext {
  router: PolicyRouter;
  decisionPath: DecisionPath;
  sessions: SessionStore;
  upstreamHeaders: UpstreamHeaders;
  separator: string;
  supportedVersions: readonly string[];
  serverInfo: { name: string; version: string };
  keepAliveMs: number;
  upstreamTimeoutMs: number;
  resourceMetadataUrl?: string;
  log: Logger;
  metrics?: ProxyMetrics;
  /** Without it a held call is refused with approvalRequired and no approval reference. */
  approvals?: ApprovalCoordinator;
  approvalMode: ApprovalMode;
  /** Keep-alive / progress interval of a held call's stream. */
  approvalKeepAliveMs: number;
}

export interface PostContext {
  req: IncomingMessage;
  res: ServerResponse;
  caller: CallerIdentity;
  signal: AbortSignal;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** initialize: a new downstream session, one upstream session per governed server. */
export async function handleInitialize(ctx: ProxyContext, p: PostContext, msg: JsonRpcRequest): Promise<void> {
  const gate = ctx.decisionPath.gate({ kind: 'request', message: msg }, { caller: p.caller, frontEnd: 'proxy', resolveTool: () => ({ error: 'no tools in initialize' }) });
  if (!gate.allow) return refuse(ctx, p, { kind: 'request', message: msg }, gate);
  const params = msg.params ?? {};
  if (ctx.sessions.full) {
    sendJsonRpcError(p.res, 503, msg.id, ErrorCodes.policyUnavailable, 'too many open sessions; retry later', undefined, { 'retry-after': '5' });
    return;
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
  if (msg.kind === 'request' && msg.message.method === 'tools/call') await preloadCatalog(ctx, session, msg.message, p.signal);
  const gate = ctx.decisionPath.gate(msg, {
    caller: p.caller, frontEnd: 'proxy', sessionId: session.id,
    resolveTool: (name) => resolveTool(ctx, session, name),
  });
  if (!gate.allow) {
    if (ctx.approvals && gate.verdict?.effect === 'hold' && gate.call && msg.kind === 'request') return handleHeld(ctx, p, session, msg.message, gate.call, gate.verdict);
    return refuse(ctx, p, msg, gate);
  }

  if (msg.kind === 'response') {
    const target = session.takeServerRequest(msg.message.id);
    if (!target) {
      sendJsonRpcError(p.res, 400, null, ErrorCodes.invalidRequest, `no pending server request with id ${JSON.stringify(msg.message.id)} in this session`);
      return;
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
      sendJsonRpcError(p.res, 400, req.id, ErrorCodes.invalidRequest, 'this session is already initialized; start a new session without an MCP-Session-Id header');
      return;
    case 'ping':
      sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: {} });
      return;
    case 'tools/list':
      return listTools(ctx, p, session, req);
    case 'tools/call': {
      const { server, tool } = gate.call!;
      const upstream = session.upstream(server);
      if (!upstream) return answerError(p.res, req.id, ErrorCodes.invalidParams, `server "${server}" has no upstream in this session`);
      const message = { ...req, params: { ...req.params, name: tool } };
      return relayRequest({ res: p.res, session, upstream, id: req.id, message, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs });
    }
    default: {
      // A method an operator let through (passMethods): routable only when there is one server.
      const ups = session.upstreams();
      if (ups.length !== 1) return answerError(p.res, req.id, ErrorCodes.methodNotFound, `method "${req.method}" cannot be routed: it names no tool and ${ups.length} upstream servers are behind this endpoint`);
      return relayRequest({ res: p.res, session, upstream: ups[0]!, id: req.id, message: { ...req }, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs });
    }
  }
}

function refuse(ctx: ProxyContext, p: PostContext, msg: JsonRpcMessage, gate: Extract<GateResult, { allow: false }>): void {
  if (gate.requiredScopes?.length) {
    const challenge = insufficientScope(gate.requiredScopes).wwwAuthenticate(ctx.resourceMetadataUrl);
    sendJsonRpcError(p.res, 403, gate.id, gate.error.code, gate.error.message, gate.error.data, { 'www-authenticate': challenge });
    return;
  }
  if (msg.kind === 'request') {
    sendJsonRpcError(p.res, 200, gate.id, gate.error.code, gate.error.message, gate.error.data);
    return;
  }
  sendJsonRpcError(p.res, gate.httpStatus, null, gate.error.code, gate.error.message, gate.error.data);
}

/** The annotations of a called tool come from its server's tools/list: fetch it if not cached. */
async function preloadCatalog(ctx: ProxyContext, session: ProxySession, req: JsonRpcRequest, signal: AbortSignal): Promise<void> {
  const name = req.params?.name;
  const split = typeof name === 'string' ? splitName(name, ctx.separator) : undefined;
  const upstream = split && session.upstream(split.server);
  if (!upstream || upstream.catalog.loaded) return;
  try {
    await upstream.catalog.tools(signal);
  } catch (err) {
    // Decided without the server's annotations (profiles and overrides still apply).
    ctx.log.warn({ server: split.server, err: (err as Error).message }, 'tools/list for annotations failed');
  }
}

function resolveTool(ctx: ProxyContext, session: ProxySession, name: string): ReturnType<Parameters<DecisionPath['gate']>[1]['resolveTool']> {
  const split = splitName(name, ctx.separator);
  if (!split) return { error: `tool "${name}" has no server prefix: tools behind this proxy are named <server>${ctx.separator}<tool>` };
  const upstream = session.upstream(split.server);
  // Not a governed server: the decision path answers that itself, exactly as ext_authz would.
  if (!upstream) return { server: split.server, tool: split.tool };
  const found = upstream.catalog.lookup(split.tool);
  if (found.duplicate) return { error: `server "${split.server}" lists tool "${split.tool}" more than once; refusing to choose between them` };
  return { server: split.server, tool: split.tool, ...(found.tool?.annotations ? { annotations: found.tool.annotations } : {}) };
}

async function listTools(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest): Promise<void> {
  if (req.params?.cursor !== undefined) {
    return answerError(p.res, req.id, ErrorCodes.invalidParams, 'params.cursor was not issued by this server: the proxy returns every tool in one page');
  }
  const perServer = await Promise.all(session.upstreams().map(async (u) => {
    const server = u.session.name;
    try {
      const tools = await u.catalog.tools(p.signal);
      const dups = u.catalog.duplicates();
      if (dups.length) ctx.log.warn({ server, tools: dups }, 'upstream lists tools more than once; they are withheld');
      return { server, tools: ctx.decisionPath.visibleTools(server, tools, p.caller) };
    } catch (err) {
      ctx.log.warn({ server, err: (err as Error).message }, 'upstream tools/list failed; its tools are left out');
      return { server, tools: [] };
    }
  }));
  const { tools, collisions } = mergeTools(perServer, ctx.separator);
  if (collisions.length) ctx.log.warn({ tools: collisions }, 'prefixed tool names collide; they are withheld');
  sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: { tools } });
}
