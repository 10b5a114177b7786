// The MCP proxy front end: one Streamable HTTP endpoint (MCP 2025-06-18 and 2025-11-25) in
// front of every upstream server the loaded policies govern. Per request: Host/Origin check,
// authentication (injected), session and protocol-version checks, then handler.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ErrorCodes, JsonRpcParseError, parseJsonRpc, type CallerIdentity, type DecisionPath, type JsonRpcMessage, type PolicyRouter } from '../gate/index.ts';
import type { ApprovalCoordinator, ApprovalMode } from '../approvals/index.ts';
import { defaultSeparator, validSeparator } from './catalog.ts';
import { openMergedStream } from './get-stream.ts';
import { handleInitialize, handleMessage, type PostContext, type ProxyContext } from './handler.ts';
import { accepts, header, HttpError, isJsonContentType, normalizeOrigin, readBody, sendHttpError, sendJson, sendJsonRpcError, transportErrorCode } from './http.ts';
import { createProxyMetrics } from './metrics.ts';
import { SessionStore, type ProxySession } from './session.ts';
import type { UpstreamHeaders } from './upstream.ts';

/** Protocol versions spoken downstream and upstream, newest first. */
export const supportedProtocolVersions = ['2025-11-25', '2025-06-18'] as const;

export interface McpProxyOptions {
  port?: number;
  host?: string;
  /** Path of the MCP endpoint. Default `/mcp`. */
  path?: string;
  router: PolicyRouter;
  decisionPath: DecisionPath;
  /** Proves the caller (bearer token); throws an AuthenticationError-like error otherwise. */
  authenticate: (req: IncomingMessage) => Promise<CallerIdentity>;
  /** Credential headers for an upstream server. Default: none. */
  upstreamHeaders?: UpstreamHeaders;
  /**
   * True once a bundle is loaded (`/readyz`). Default: some governed server is known. When given,
   * every POST is refused (503, policy unavailable) while it is false, as ext_authz refuses every
   * Check: the authorizer is not ready e.g. while the admission policy guarding approvals is missing.
   */
  ready?: () => boolean;
  /** Origins (scheme://host[:port]) allowed to call from a browser; a request with any other Origin gets 403. */
  allowedOrigins?: string[];
  /** When set, the Host header must be one of these (DNS rebinding defence for loopback binds). */
  allowedHosts?: string[];
  /** RFC 9728 metadata URL put in WWW-Authenticate challenges. */
  resourceMetadataUrl?: string;
  /** Handlers tried before the MCP endpoint (e.g. the protected-resource metadata); true = handled. */
  handlers?: Array<(req: IncomingMessage, res: ServerResponse) => boolean>;
  separator?: string;
  maxBodyBytes?: number;
  maxSessions?: number;
  sessionIdleMs?: number;
  upstreamTimeoutMs?: number;
  keepAliveMs?: number;
  serverInfo?: { name: string; version: string };
  log?: Logger;
  registry?: Registry;
  /** Creates, watches and consumes ApprovalRequests for held calls (see held.ts). */
  approvals?: ApprovalCoordinator;
  /** hold (default): keep the call open until decided; retry: answer at once with the approval reference. */
  approvalMode?: ApprovalMode;
  /** Keep-alive comments / progress notifications on a held call's stream. Default keepAliveMs. */
  approvalKeepAliveMs?: number;
}

export interface McpProxy {
  port: number;
  /** URL of the MCP endpoint. */
  url: string;
  /** Tells clients with an open GET stream to list tools again (call after a bundle swap). */
  notifyToolsChanged(): void;
  sessionCount(): number;
  close(): Promise<void>;
}

interface AuthErrorLike { status: number; description?: string; message: string; wwwAuthenticate?: (url?: string) => string; toJSON?: () => unknown }

export async function startMcpProxy(o: McpProxyOptions): Promise<McpProxy> {
  const separator = o.separator ?? defaultSeparator;
  if (!validSeparator(separator)) throw new TypeError(`separator ${JSON.stringify(separator)} must be 1-8 non-space characters including one that cannot occur in a server name (outside [a-z0-9-])`);
  const endpoint = o.path ?? '/mcp';
  const log = o.log ?? pino({ level: 'silent' });
  const metrics = o.registry ? createProxyMetrics(o.registry) : undefined;
  const maxBodyBytes = o.maxBodyBytes ?? 1024 * 1024;
  const allowedOrigins = new Set((o.allowedOrigins ?? []).map(normalizeOrigin));
  const allowedHosts = o.allowedHosts ? new Set(o.allowedHosts.map((h) => h.toLowerCase())) : undefined;
  const ready = o.ready ?? (() => o.router.servers().length > 0);
  const sessions = new SessionStore({ maxSessions: o.maxSessions ?? 10_000, idleTimeoutMs: o.sessionIdleMs ?? 30 * 60_000, log, ...(metrics ? { metrics } : {}) });
  const ctx: ProxyContext = {
    router: o.router, decisionPath: o.decisionPath, sessions, separator,
    upstreamHeaders: o.upstreamHeaders ?? (async () => ({})),
    supportedVersions: supportedProtocolVersions,
    serverInfo: o.serverInfo ?? { name: 'toolgate', version: '0.1.0' },
    keepAliveMs: o.keepAliveMs ?? 15_000,
    upstreamTimeoutMs: o.upstreamTimeoutMs ?? 30_000,
    ...(o.resourceMetadataUrl ? { resourceMetadataUrl: o.resourceMetadataUrl } : {}),
    log, ...(metrics ? { metrics } : {}),
    ...(o.approvals ? { approvals: o.approvals } : {}),
    approvalMode: o.approvalMode ?? 'hold',
    approvalKeepAliveMs: o.approvalKeepAliveMs ?? o.keepAliveMs ?? 15_000,
  };

  async function authenticate(req: IncomingMessage, res: ServerResponse): Promise<CallerIdentity | undefined> {
    try {
      return await o.authenticate(req);
    } catch (err) {
      const e = err as AuthErrorLike;
      const status = [400, 401, 403, 503].includes(e.status) ? e.status : 401;
      if (typeof e.wwwAuthenticate !== 'function') log.error({ err: e.message }, 'authenticate failed unexpectedly; refusing the request');
      const challenge = typeof e.wwwAuthenticate === 'function' ? e.wwwAuthenticate(o.resourceMetadataUrl) : `Bearer${o.resourceMetadataUrl ? ` resource_metadata="${o.resourceMetadataUrl}"` : ''}`;
      const body = typeof e.toJSON === 'function' ? e.toJSON() : { error: 'invalid_token', error_description: 'authentication failed' };
      sendJson(res, status, body, status === 401 || status === 403 ? { 'www-authenticate': challenge } : {});
      return undefined;
    }
  }

  /** The session named by MCP-Session-Id, checked against the caller and the protocol version. */
  function sessionFor(req: IncomingMessage, caller: CallerIdentity): ProxySession {
    const id = header(req, 'mcp-session-id');
    if (!id) throw new HttpError(400, transportErrorCode, 'MCP-Session-Id header required: send initialize first');
    const s = sessions.get(id);
    // Someone else's session id is answered exactly like an unknown one.
    if (!s || !s.belongsTo(caller)) throw new HttpError(404, transportErrorCode, 'session not found: it ended or expired; initialize a new one');
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && version !== s.protocolVersion) {
      const why = (supportedProtocolVersions as readonly string[]).includes(version) ? `does not match the version negotiated for this session (${s.protocolVersion})` : `is not supported (supported: ${supportedProtocolVersions.join(', ')})`;
      throw new HttpError(400, transportErrorCode, `MCP-Protocol-Version ${JSON.stringify(version)} ${why}`);
    }
    return s;
  }

  async function post(req: IncomingMessage, res: ServerResponse, caller: CallerIdentity, signal: AbortSignal): Promise<void> {
    const accept = header(req, 'accept');
    if (!accepts(accept, 'application/json') || !accepts(accept, 'text/event-stream')) {
      throw new HttpError(406, transportErrorCode, 'Accept must include both application/json and text/event-stream');
    }
    if (!isJsonContentType(header(req, 'content-type'))) throw new HttpError(415, transportErrorCode, 'Content-Type must be application/json');
    const body = await readBody(req, maxBodyBytes);
    let msg: JsonRpcMessage;
    try {
      msg = parseJsonRpc(body);
    } catch (err) {
      if (!(err instanceof JsonRpcParseError)) throw err;
      sendJsonRpcError(res, 400, err.id, err.code, err.message);
      return;
    }
    if (o.ready && !o.ready()) {
      sendJsonRpcError(res, 503, msg.kind === 'request' ? msg.message.id : null, ErrorCodes.policyUnavailable, 'policy unavailable, call refused: the authorizer is not ready (its /readyz says why)', undefined, { 'retry-after': '5' });
      return;
    }
    const p: PostContext = { req, res, caller, signal };
    if (msg.kind === 'request' && msg.message.method === 'initialize') {
      if (header(req, 'mcp-session-id')) throw new HttpError(400, ErrorCodes.invalidRequest, 'initialize must not carry an MCP-Session-Id header: it starts a new session');
      return handleInitialize(ctx, p, msg.message);
    }
    return handleMessage(ctx, p, sessionFor(req, caller), msg);
  }

  async function mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = header(req, 'origin');
    if (allowedHosts && !allowedHosts.has((header(req, 'host') ?? '').toLowerCase())) {
      throw new HttpError(403, transportErrorCode, `Host ${JSON.stringify(header(req, 'host') ?? '')} is not allowed`);
    }
    if (origin !== undefined && !allowedOrigins.has(normalizeOrigin(origin))) {
      throw new HttpError(403, transportErrorCode, `Origin ${JSON.stringify(origin)} is not allowed`);
    }
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version, www-authenticate');
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, DELETE', 'access-control-allow-headers': 'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id', 'access-control-max-age': '600' }).end();
      return;
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      throw new HttpError(405, transportErrorCode, `method ${req.method} not allowed; use POST, GET or DELETE`, { allow: 'GET, POST, DELETE' });
    }
    const caller = await authenticate(req, res);
    if (!caller) return;
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(); });
    if (req.method === 'POST') return post(req, res, caller, abort.signal);
    if (req.method === 'GET' && !accepts(header(req, 'accept'), 'text/event-stream')) throw new HttpError(406, transportErrorCode, 'Accept must include text/event-stream');
    const session = sessionFor(req, caller);
    if (req.method === 'DELETE') {
      await sessions.delete(session);
      log.info({ session: session.id.slice(0, 8) }, 'session ended by client');
      res.writeHead(200).end();
      return;
    }
    await openMergedStream({ res, session, log, keepAliveMs: ctx.keepAliveMs, reconnectMs: 1_000 });
  }

  const server: Server = createServer((req, res) => {
    res.on('finish', () => metrics?.request(req.method ?? '', res.statusCode));
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') return ready() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not ready', reason: 'no policy bundle loaded' });
    for (const h of o.handlers ?? []) if (h(req, res)) return;
    if (path !== endpoint) return sendJson(res, 404, { error: 'not_found', error_description: `no route ${path}; the MCP endpoint is ${endpoint}` });
    mcp(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        log.warn({ err: (err as Error).message }, 'request failed after the response started');
        res.destroy();
        return;
      }
      if (err instanceof HttpError) return sendHttpError(res, err);
      log.error({ err }, 'MCP request failed');
      sendJsonRpcError(res, 500, null, -32603, 'internal error');
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
    async close() {
      await sessions.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
