// Requests other than initialize, ping and tools/*, once the gate admitted them. Fronting one
// server they go straight to it (listings filtered per caller). Aggregating, each goes to the
// server it names: prompts by their prefixed name, resources by who listed the URI, completion
// by its `ref`, logging/setLevel to every server that logs; anything else cannot be routed and
// is refused.
import { isObject } from '../../../pkg/lang/is-object.ts';
import { ErrorCodes, type JsonRpcRequest } from '../gate/index.ts';
import { splitName } from './catalog.ts';
import { answersWithSse, refuseRequest, resumeOf, type PostContext, type ProxyContext } from './handler.ts';
import { sendAnswer, sendJson } from './http.ts';
import { filterOf, isListingMethod, listings, listPage, mergedListing, resourceOwner, type ListingMethod, type ResourceOwner } from './listings.ts';
import { relayRequest } from './relay.ts';
import type { ProxySession, Upstream } from './session.ts';
import { UpstreamError } from './upstream.ts';

const resourceMethods = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

/** What handleMessage decided an aggregated request for: the servers (every one that logs), a resource's owner. */
export interface Decided {
  servers: string[];
  owner?: ResourceOwner;
}

/** `decided`: set when handleMessage resolved the servers for the decision; the request goes to exactly those. */
/** `onAnswer`: told the relayed answer (the audit trail's response record). */
export async function handleOtherRequest(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest, decided?: Decided, onAnswer?: (answer: unknown, httpStatus?: number) => void): Promise<void> {
  const resolved = decided?.owner;
  if (isListingMethod(req.method)) return answerListing(ctx, p, session, req, req.method);
  const relay = (upstream: Upstream, message: Record<string, unknown>) =>
    relayRequest({ res: p.res, session, upstream, id: req.id, message, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs, resume: resumeOf(ctx, p, session), ...(onAnswer ? { onAnswer } : {}) });
  const params = req.params ?? {};
  if (session.fronted !== undefined) {
    const only = session.upstream(session.fronted);
    if (!only) return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `server "${session.fronted}" has no upstream in this session`, { method: req.method, server: session.fronted });
    return relay(only, { ...req });
  }
  const unroutable = (why: string) => refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `${req.method} cannot be routed: ${why}`, { method: req.method });
  const to = async (server: string, message: Record<string, unknown>) => {
    const u = session.upstream(server);
    if (!u) return unroutable(`no server "${server}" behind this endpoint`);
    return relay(u, message);
  };
  switch (req.method) {
    case 'prompts/get': {
      const split = typeof params.name === 'string' ? splitName(params.name, ctx.separator) : undefined;
      if (!split) return unroutable(`prompt names behind this endpoint are <server>${ctx.separator}<prompt>, got ${JSON.stringify(params.name)}`);
      return to(split.server, { ...req, params: { ...params, name: split.tool } });
    }
    case 'completion/complete': {
      const ref = isObject(params.ref) ? params.ref : {};
      if (ref.type === 'ref/prompt') {
        const split = typeof ref.name === 'string' ? splitName(ref.name, ctx.separator) : undefined;
        if (!split) return unroutable(`params.ref.name must be <server>${ctx.separator}<prompt>, got ${JSON.stringify(ref.name)}`);
        return to(split.server, { ...req, params: { ...params, ref: { ...ref, name: split.tool } } });
      }
      if (ref.type === 'ref/resource' && typeof ref.uri === 'string') {
        const owner = resolved ?? await resourceOwner(session, ref.uri, ctx.listingFilters, ctx.separator, p.caller, p.signal);
        return 'error' in owner ? unroutable(owner.error) : to(owner.server, { ...req });
      }
      return unroutable('params.ref must be a ref/prompt with a name or a ref/resource with a uri');
    }
    case 'logging/setLevel':
      return fanOutLogging(ctx, p, session, req, decided?.servers ?? []);
    default:
      if (resourceMethods.has(req.method)) {
        if (typeof params.uri !== 'string') return unroutable('params.uri must be a string');
        const owner = resolved ?? await resourceOwner(session, params.uri, ctx.listingFilters, ctx.separator, p.caller, p.signal);
        return 'error' in owner ? unroutable(owner.error) : to(owner.server, { ...req });
      }
      return refuseRequest(ctx, p, req.id, ErrorCodes.methodNotFound, `method "${req.method}" cannot be routed: it names no server and several servers are behind this endpoint (use ${'<endpoint>'}/<server> to reach one)`, { method: req.method });
  }
}

function upstreamErrorBody(id: JsonRpcRequest['id'], err: unknown, server?: string): Record<string, unknown> {
  // The upstream's own JSON-RPC error is its word, passed on; anything else is the proxy's failure to reach it.
  if (err instanceof UpstreamError && err.rpcError) return { jsonrpc: '2.0', id, error: err.rpcError };
  return { jsonrpc: '2.0', id, error: { code: ErrorCodes.upstreamUnavailable, message: (err as Error).message, ...(server ? { data: { server } } : {}) } };
}

async function answerListing(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest, method: ListingMethod): Promise<void> {
  const { key } = listings[method];
  const filter = filterOf(ctx.listingFilters, method);
  const params = req.params ?? {};
  if (session.fronted !== undefined) {
    const only = session.upstream(session.fronted);
    if (!only) return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `server "${session.fronted}" has no upstream in this session`, { method, server: session.fronted });
    try {
      const page = await listPage(only, method, params, filter, p.caller, p.signal);
      sendAnswer(p.res, { jsonrpc: '2.0', id: req.id, result: page }, answersWithSse(p, session));
    } catch (err) {
      if (p.signal.aborted) return;
      sendJson(p.res, 200, upstreamErrorBody(req.id, err, only.session.name));
    }
    return;
  }
  if (params.cursor !== undefined) {
    return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `params.cursor was not issued by this server: an aggregating endpoint returns every ${key} item in one page`, { method });
  }
  const merged = await mergedListing(session, method, filter, ctx.separator, p.caller, p.signal);
  if (merged.collisions.length) ctx.log.warn({ method, withheld: merged.collisions }, 'listed by more than one server; withheld');
  for (const f of merged.failed) ctx.log.warn({ method, server: f.server, err: f.error }, 'upstream listing failed; its items are left out');
  sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: { [key]: merged.items } });
}

/**
 * logging/setLevel on an aggregating endpoint: exactly the servers it was decided for (every one
 * that logged at decision time) get it, never one that appeared since; all must accept. A decided
 * server gone from the session counts as a failure rather than being skipped silently.
 */
async function fanOutLogging(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest, servers: readonly string[]): Promise<void> {
  const results = await Promise.allSettled(servers.map(async (name) => {
    const u = session.upstream(name);
    if (!u) throw new Error('no longer behind this endpoint');
    return u.session.call('logging/setLevel', req.params ?? {}, p.signal);
  }));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${servers[i]}: ${(r.reason as Error).message}`] : []));
  if (failed.length) {
    sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, error: { code: ErrorCodes.upstreamUnavailable, message: `logging/setLevel failed on ${failed.length} of ${servers.length} servers: ${failed.join('; ')}` } });
    return;
  }
  sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: {} });
}
