// A tools/call the policy holds for human approval (verdict effect 'hold').
//
// hold mode (default): the response becomes an SSE stream at once; keep-alive comments (and
// notifications/progress when the request carried _meta.progressToken) keep clients and load
// balancers from timing out while the humans decide. Approved → the approval is consumed and the
// call is forwarded upstream, its real answer relayed on the same stream; denied, expired or
// released elsewhere → a JSON-RPC error on the stream. A client that goes away (or cancels)
// stops the wait; the ApprovalRequest stays, so the identical call retried later finds it.
//
// retry mode: answered at once with the approvalRequired error carrying the approval reference;
// the identical call retried after approval finds the approved request, consumes it and proceeds.
//
// tasks: a client that declared capabilities.tasks and sent params.task gets a task instead, in
// either mode (tasks/serve.ts).
//
// Which calls are held and what their outcome is answered with is the gate's (Gate.release, the
// same call ext_authz makes); only the stream that keeps the client waiting is this file's.
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { approveCommand } from '../approvals/index.ts';
import { ErrorCodes, errorResponse, type GateOutcome, type HeldCall } from '../gate/index.ts';
import { refuseRequest, type PostContext, type ProxyContext } from './handler.ts';
import { sendRefusal } from './http.ts';
import { relayRequest } from './relay.ts';
import type { ProxySession } from './session.ts';
import { SseWriter } from './sse.ts';
import { startHeldTask } from './tasks/serve.ts';

/** Held calls per session and request id, so notifications/cancelled can stop the wait. */
const waiting = new Map<string, AbortController>();
const heldKey = (session: ProxySession, id: unknown) => `${session.id}\u0000${JSON.stringify(id)}`;

/** Stops waiting for a held call the client cancelled; true when there was one. */
export function cancelHeld(session: ProxySession, requestId: unknown): boolean {
  const c = waiting.get(heldKey(session, requestId));
  c?.abort(Object.assign(new Error('the client cancelled the call'), { name: 'AbortError' }));
  return c !== undefined;
}

export async function handleHeld(ctx: ProxyContext, p: PostContext, session: ProxySession, held: HeldCall): Promise<void> {
  const { call, verdict, message: req } = held;
  const upstream = session.upstream(call.server);
  if (!upstream) return refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `server "${call.server}" has no upstream in this session`, { method: 'tools/call', server: call.server, tool: call.tool });
  // A client that declared tasks and asked for one gets a task instead (either mode).
  if (await startHeldTask(ctx, p, session, held)) return;
  const log = ctx.log.child({ decisionId: verdict.decisionId, server: call.server, tool: call.tool });
  const message = { ...req, params: { ...req.params, name: call.tool } };
  const onAnswer = ctx.gate.answered(held);
  const relay = (writer?: SseWriter) => relayRequest({
    res: p.res, session, upstream, id: req.id, message, signal: p.signal, log: ctx.log, keepAliveMs: ctx.keepAliveMs, ...(writer ? { writer } : {}), ...(onAnswer ? { onAnswer } : {}),
  });

  if (ctx.approvalMode === 'retry') {
    const outcome = await ctx.gate.release(held, { mode: 'retry' }, p.rc);
    if (outcome.kind === 'allow') return relay();
    return sendRefusal(p.res, outcome.refusal);
  }

  const key = heldKey(session, req.id);
  const cancel = new AbortController();
  waiting.set(key, cancel);
  const signal = AbortSignal.any([p.signal, cancel.signal]);
  const writer = new SseWriter(p.res, {}, ctx.approvalKeepAliveMs);
  const meta = req.params?._meta as { progressToken?: unknown } | undefined;
  const progressToken = typeof meta?.progressToken === 'string' || typeof meta?.progressToken === 'number' ? meta.progressToken : undefined;
  let ticker: NodeJS.Timeout | undefined;
  const onPending = (r: ApprovalRequest) => {
    log.info({ approval: `${r.metadata.namespace}/${r.metadata.name}`, expiresAt: r.spec.expiresAt }, 'call held for approval');
    if (progressToken === undefined) return;
    let progress = 0;
    const tick = () => writer.send({
      jsonrpc: '2.0', method: 'notifications/progress',
      params: { progressToken, progress: ++progress, message: `waiting for approval: ${approveCommand(r)} (expires ${r.spec.expiresAt})` },
    });
    tick();
    ticker = setInterval(tick, ctx.approvalKeepAliveMs).unref();
  };

  let outcome: GateOutcome;
  try {
    outcome = await ctx.gate.release(held, { mode: 'hold', signal, onPending }, p.rc);
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
    log.info({ reason: (err as Error).message }, 'held call abandoned by the client; its approval request stays for a retry');
    writer.close();
    return;
  } finally {
    clearInterval(ticker);
    waiting.delete(key);
  }
  if (outcome.kind === 'allow') return relay(writer);
  log.info({ code: outcome.refusal.error.code }, 'held call ended without release');
  // The stream already answered 200: the refusal travels as its last event.
  writer.send(errorResponse(req.id, outcome.refusal.error));
  writer.close();
}
