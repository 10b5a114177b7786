// The 2026-07-28 request path of the proxy: no session and no initialize. Every POST carries its
// protocol version and client capabilities in `_meta`, was authenticated and had its MCP headers
// checked against its body by server.ts (exactly as the session path), and passes the gate here
// on its own: gate.admit with the one governed server's own tool names, gate.release in retry
// mode for a held call. It is relayed to the upstream as its own POST (2026-07-28 speaks no
// sessions either), and the answer is relayed back: one JSON body, or an SSE stream of the
// request's notifications ending with its response.
//
// What toolgate adds to the upstream's answers: tools/list is filtered per caller (the tools the
// policy lets this caller see), and every cacheable result (tools/list, prompts/list,
// resources/list, resources/templates/list, resources/read, server/discover) is marked
// `cacheScope: "private"`: behind toolgate every answer depends on the caller's authorization,
// so no shared cache may hand one caller's answer to another.
//
// Not translated: a 2026-07-28 request to an upstream that speaks only ≤ 2025-11-25. Such an
// upstream answers the sessionless POST with an HTTP error (or a result without `resultType`);
// its JSON-RPC error is relayed as is, any other HTTP error is refused with upstreamUnavailable
// naming the status. Clients of such servers speak ≤ 2025-11-25 through the session path.
// Only one governed server behind the endpoint is served this way: several would need their
// server/discover answers and capabilities merged (refused with a clear error until then).
import { ErrorCodes, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from '../../gate/jsonrpc.ts';
import type { GatewayConfig, GatewayServer, ToolCall, Verdict } from '../../gate/types.ts';
import type { Refusal } from '../../gate/outcome.ts';
import { frontingFor, type PostContext, type ProxyContext } from '../handler.ts';
import { sendJson, sendRefusal } from '../http.ts';
import { SseWriter } from '../sse.ts';
import { UpstreamError } from '../upstream.ts';
import { approvalInputFor, withoutApprovalInput } from '../../gate/approval-input.ts';
import { modernVersionOf, statelessProtocolVersions } from './classify.ts';
import { messagesOf, postModern } from './upstream.ts';

/** Results the 2026-07-28 caching rules cover (server/utilities/caching). */
export const cacheableMethods: ReadonlySet<string> = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);


type Governed = { server: GatewayServer; policy: GatewayConfig['policy'] };

/** The servers this request may go to: the one the route fronts (frontingFor, as the session path decides), else every governed one. */
function governedServers(ctx: ProxyContext, routeServer: string | undefined): Governed[] {
  const byName = new Map<string, Governed>();
  for (const { entry, server } of ctx.router.servers()) if (entry.gateway && !byName.has(server.name)) byName.set(server.name, { server, policy: entry.gateway.policy });
  const fronting = frontingFor(ctx, routeServer);
  if ('server' in fronting) return byName.has(fronting.server) ? [byName.get(fronting.server)!] : [];
  return [...byName.values()];
}

function refuse(ctx: ProxyContext, p: PostContext, httpStatus: number, id: JsonRpcId, code: number, message: string, o: { method?: string; data?: unknown } = {}): void {
  const refusal: Refusal = { stage: 'message', httpStatus, id, error: { code, message, ...(o.data !== undefined ? { data: o.data } : {}) } };
  sendRefusal(p.res, ctx.gate.refuse(p.rc, refusal, o.method !== undefined ? { method: o.method } : {}));
}

export async function handleStateless(ctx: ProxyContext, p: PostContext, msg: JsonRpcMessage): Promise<void> {
  const id = msg.kind === 'request' ? msg.message.id : null;
  const method = msg.kind === 'response' ? undefined : msg.message.method;
  const declared = modernVersionOf(p.req.headersDistinct, msg);
  const requested = typeof declared === 'string' ? declared : undefined;
  if (requested === undefined || !statelessProtocolVersions.includes(requested)) {
    // The versions this endpoint speaks, the session path's included: a client may fall back to initialize.
    const supported = [...statelessProtocolVersions, ...ctx.supportedVersions];
    const shown = requested ?? JSON.stringify((declared as { invalid: unknown } | undefined)?.invalid ?? null);
    return refuse(ctx, p, 400, id, ErrorCodes.unsupportedProtocolVersion, `Unsupported protocol version: ${shown} (supported: ${supported.join(', ')})`, {
      ...(method !== undefined ? { method } : {}), data: { supported, requested: requested ?? (declared as { invalid: unknown } | undefined)?.invalid ?? null },
    });
  }
  if (msg.kind === 'response') return refuse(ctx, p, 400, null, ErrorCodes.invalidRequest, 'a 2026-07-28 client sends no JSON-RPC responses: server input is answered by retrying the request with inputResponses');
  const servers = governedServers(ctx, p.routeServer);
  if (servers.length !== 1) {
    return refuse(ctx, p, 400, id, ErrorCodes.invalidRequest,
      `2026-07-28 (sessionless) requests are served only when one governed server is behind this endpoint; ${servers.length} are: use protocol version 2025-11-25 or earlier (initialize) here`, { method: method! });
  }
  const governed = servers[0]!;
  const server = governed.server.name;

  if (msg.kind === 'notification') {
    const admitted = await ctx.gate.admit(msg, { ...p.rc, caller: p.caller, naming: { server }, signal: p.signal });
    if (admitted.kind === 'refuse') return sendRefusal(p.res, admitted.refusal);
    // No client→server notification is defined on 2026-07-28 Streamable HTTP; pass one on, unanswered.
    void postModern({ ...upstreamOf(ctx, governed, p), body: JSON.stringify(msg.message) }).then((r) => r.body?.cancel(), (err: unknown) => ctx.log.debug({ server, err: (err as Error).message }, 'notification not delivered upstream'));
    p.res.writeHead(202).end();
    return;
  }

  const req = msg.message;
  // Every request passes the gate: it lets server/discover through and admits a
  // subscriptions/listen only for resources the caller may read.
  const admitted = await ctx.gate.admit(msg, { ...p.rc, caller: p.caller, naming: { server }, signal: p.signal });
  if (admitted.kind === 'refuse') return sendRefusal(p.res, admitted.refusal);
  let allowed: { verdict?: Verdict; call?: ToolCall } = admitted.kind === 'allow' ? admitted : {};
  if (admitted.kind === 'hold') {
    // A sessionless client holds no stream to wait on: answer at once, in MRTR terms when it can
    // be asked (approval-input.ts), else with the pending error and the approval reference.
    const released = await ctx.gate.release(admitted.held, { mode: 'retry' }, p.rc);
    if (released.kind === 'refuse') {
      const ask = approvalInputFor(released.refusal, req, { requestState: true });
      if (ask) return sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: ask });
      return sendRefusal(p.res, released.refusal);
    }
    allowed = released;
  }
  // The answers of calls and reads are recorded (the audit trail's response records).
  const onAnswer = answerRecorded.has(req.method) ? ctx.gate.answered(allowed) : undefined;
  return relay(ctx, p, governed, withoutApprovalInput(req), onAnswer ?? noReport);
}

function upstreamOf(ctx: ProxyContext, g: Governed, p: PostContext) {
  return { server: g.server, policy: g.policy, credentials: ctx.upstreamHeaders, clientHeaders: p.req.headersDistinct, signal: p.signal, timeoutMs: ctx.upstreamTimeoutMs };
}

function failure(id: JsonRpcId, server: string, message: string, data: Record<string, unknown> = {}): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: { code: ErrorCodes.upstreamUnavailable, message, data: { server, ...data } } };
}

const answerRecorded = new Set(['tools/call', 'resources/read', 'prompts/get']);
type Report = (answer: unknown, httpStatus?: number) => void;
const noReport: Report = () => undefined;

async function relay(ctx: ProxyContext, p: PostContext, g: Governed, req: JsonRpcRequest, report: Report): Promise<void> {
  const server = g.server.name;
  let res: Response;
  try {
    res = await postModern({ ...upstreamOf(ctx, g, p), body: JSON.stringify(req) });
  } catch (err) {
    if (p.signal.aborted) return;
    ctx.log.warn({ server, err: (err as Error).message }, 'upstream request failed');
    const failed = failure(req.id, server, (err as Error).message);
    report(failed);
    return sendJson(p.res, 502, failed);
  }
  if (!res.ok || res.status === 202) return relayHttpError(p, server, req.id, res, report);
  let writer: SseWriter | undefined;
  try {
    for await (const m of messagesOf(res, server)) {
      const message = m.message;
      if (typeof message.method === 'string') {
        if ('id' in message) {
          // 2026-07-28 servers send no requests on a response stream (input goes through MRTR results).
          ctx.log.warn({ server, method: message.method }, 'upstream sent a request on a 2026-07-28 response stream; dropped');
          continue;
        }
        writer ??= new SseWriter(p.res, {}, ctx.keepAliveMs);
        writer.sendRaw(m.raw);
        continue;
      }
      if (message.id !== req.id) continue;
      report(message);
      const out = answerOf(ctx, p, server, req, message);
      if (writer) writer.sendRaw(out ?? m.raw);
      else if (out === undefined) {
        p.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(m.raw)) });
        p.res.end(m.raw);
      } else sendJson(p.res, 200, JSON.parse(out));
      return;
    }
    const closed = failure(req.id, server, `upstream server "${server}" closed the stream without answering`);
    report(closed);
    if (writer) writer.send(closed);
    else sendJson(p.res, 502, closed);
  } catch (err) {
    if (p.signal.aborted) return;
    ctx.log.warn({ server, err: (err as Error).message }, 'upstream answer failed');
    const message = err instanceof UpstreamError ? err.message : `upstream answer failed: ${(err as Error).message}`;
    report(failure(req.id, server, message));
    if (writer) writer.send(failure(req.id, server, message));
    else if (!p.res.headersSent) sendJson(p.res, 502, failure(req.id, server, message));
  } finally {
    writer?.close();
    await res.body?.cancel().catch(() => undefined);
  }
}

/** The final response as toolgate relays it, or undefined to pass the upstream's text untouched. */
function answerOf(ctx: ProxyContext, p: PostContext, server: string, req: JsonRpcRequest, message: Record<string, unknown>): string | undefined {
  const result = message.result;
  if (!cacheableMethods.has(req.method) || result === null || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const out: Record<string, unknown> = { ...(result as Record<string, unknown>), cacheScope: 'private' };
  if (req.method === 'tools/list') {
    const tools = Array.isArray(out.tools) ? out.tools.filter((t): t is { name: string } => t !== null && typeof t === 'object' && typeof (t as { name?: unknown }).name === 'string') : [];
    out.tools = ctx.gate.visibleTools(server, tools, p.caller);
  }
  return JSON.stringify({ ...message, result: out });
}

async function relayHttpError(p: PostContext, server: string, id: JsonRpcId, res: Response, report: Report): Promise<void> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    // The upstream's own JSON-RPC error (unsupported version, unknown method, header mismatch): its word and its status.
    if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
      const answer = { jsonrpc: '2.0', id, error: body.error };
      report(answer, res.status);
      return sendJson(p.res, res.status >= 400 && res.status < 500 ? res.status : 502, answer);
    }
  } catch {
    // not JSON: answered below
  }
  const failed = failure(id, server, `upstream server "${server}" answered HTTP ${res.status} to a 2026-07-28 request (does it speak 2026-07-28? ≤ 2025-11-25 servers are reached with a 2025-11-25 client)`, { status: res.status });
  report(failed, res.status);
  sendJson(p.res, 502, failed);
}
