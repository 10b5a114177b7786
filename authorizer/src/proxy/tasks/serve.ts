// Approvals in the terms of 2025-11-25 tasks. A client that declared `capabilities.tasks` and
// sent a held tools/call with `params.task` is answered at once with a CreateTaskResult; the
// approval wait (Gate.release, hold mode, so the coordinator's exactly-once release applies) and
// then the upstream call run in the background, and the task's status follows them:
//   working   while the ApprovalRequest is pending (statusMessage: who must approve and the
//             `kubectl mcp approve` command) and while the released call runs upstream;
//   completed once the upstream answered a result (tasks/result returns it);
//   failed    when denied, expired, released elsewhere or the upstream answered an error
//             (tasks/result returns that JSON-RPC error);
//   cancelled on tasks/cancel (the wait stops; the ApprovalRequest stays, as in hold mode).
// `working`, not `input_required`, while pending: input_required tells a client to block on
// tasks/result for messages meant for it, and the humans who decide are not that client.
//
// tasks/get, tasks/result, tasks/cancel naming a proxy task id (isProxyTaskId) are answered
// here; any other id goes on as before (to the gate, then to an upstream that runs its own
// tasks), so an upstream's tasks keep working and the two never mix.
import type { ApprovalRequest } from '../../../../api/v1alpha1/index.ts';
import { isObject } from '../../../../pkg/lang/is-object.ts';
import { approveCommand } from '../../approvals/index.ts';
import type { Logger } from 'pino';
import { ErrorCodes, type CallerIdentity, type GateOutcome, type HeldCall, type JsonRpcMessage, type JsonRpcRequest } from '../../gate/index.ts';
import { refuseRequest, type PostContext, type ProxyContext } from '../handler.ts';
import { sendJson } from '../http.ts';
import type { ProxySession, Upstream } from '../session.ts';
import { upstreamTaskSupport } from './advertise.ts';
import { isProxyTaskId, TaskLimitError, type TaskOwner, type TaskStore } from './store.ts';
import { callUpstreamForOutcome } from './upstream-call.ts';


const relatedTask = 'io.modelcontextprotocol/related-task';
const taskMethods = new Set(['tasks/get', 'tasks/result', 'tasks/cancel', 'tasks/list']);
const cleanedUp = new WeakSet<ProxySession>();

export function ownerOf(session: ProxySession, caller: CallerIdentity): TaskOwner {
  return { session: session.id, caller: JSON.stringify([caller.issuer, caller.subject, caller.agent ?? '']) };
}

/** Whether the client said at initialize that it speaks tasks (2025-11-25 `capabilities.tasks`). */
export function clientDeclaresTasks(session: ProxySession): boolean {
  return isObject(session.init.capabilities.tasks);
}

/** What a pending task says: who must approve and how. */
export function pendingMessage(r: ApprovalRequest): string {
  const groups = r.spec.approvers.join(', ');
  return `waiting for approval by ${r.spec.quorum} member(s) of ${groups}: ${approveCommand(r)} (expires ${r.spec.expiresAt})`;
}

interface TaskRun {
  taskId: string;
  signal: AbortSignal;
  log: Logger;
  /** Answers the client's tools/call with the task as it is now (once; later calls do nothing). */
  answer: () => void;
}

/**
 * Creates the proxy task of a task-augmented tools/call and runs `work` in the background; the
 * client's request is answered (CreateTaskResult) when `work` calls answer(), at the latest
 * when it ends. The call goes upstream plain (without params.task): the task is the proxy's.
 */
async function runAsTask(ctx: ProxyContext, p: PostContext, session: ProxySession, upstream: Upstream, req: JsonRpcRequest, call: { server: string; tool: string; decisionId?: string },
  before: (run: TaskRun) => Promise<boolean>): Promise<void> {
  const params = req.params ?? {};
  const owner = ownerOf(session, p.caller);
  let created: ReturnType<TaskStore['create']>;
  try {
    created = ctx.tasks.create(owner, isObject(params.task) ? params.task.ttl : undefined);
  } catch (err) {
    if (!(err instanceof TaskLimitError)) throw err;
    return refuseRequest(ctx, p, req.id, ErrorCodes.invalidRequest, err.message, { method: 'tools/call', server: call.server, tool: call.tool });
  }
  if (!cleanedUp.has(session)) {
    cleanedUp.add(session);
    session.onClose(() => ctx.tasks.dropSession(session.id));
  }
  const { taskId, signal } = created;
  ctx.metrics?.task?.('created');
  const log = ctx.log.child({ ...(call.decisionId ? { decisionId: call.decisionId } : {}), server: call.server, tool: call.tool, task: taskId.slice(0, 22) });
  let answered!: () => void;
  const answeredOnce = new Promise<void>((r) => (answered = r));
  let sent = false;
  const answer = () => {
    if (sent) return;
    sent = true;
    const task = ctx.tasks.get(taskId, owner);
    if (!task) sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, error: { code: ErrorCodes.internalError, message: 'the task ended before it could be answered' } });
    else sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: { task, _meta: { 'io.modelcontextprotocol/model-immediate-response': task.statusMessage ?? 'the call runs as a task' } } });
    answered();
  };
  const run = async () => {
    try {
      if (!(await before({ taskId, signal, log, answer }))) return;
    } finally {
      answer();
    }
    const { task: _task, ...rest } = params;
    const result = await callUpstreamForOutcome(session, upstream, { ...rest, name: call.tool }, signal);
    if (signal.aborted) return;
    if ('result' in result) {
      const meta = isObject(result.result._meta) ? result.result._meta : {};
      ctx.tasks.finish(taskId, 'completed', 'the call completed', { result: { ...result.result, _meta: { ...meta, [relatedTask]: { taskId } } } });
      ctx.metrics?.task?.('completed');
    } else {
      ctx.tasks.finish(taskId, 'failed', result.error.message, result);
      ctx.metrics?.task?.('failed');
    }
  };
  void run().catch((err: unknown) => log.error({ err: (err as Error).message }, 'task run failed'));
  await answeredOnce;
}

/**
 * Whether a tools/call becomes a proxy task: the client declared tasks, asked for one, and the
 * upstream does not itself require running that tool as a task (then the call is the
 * upstream's to run as its task, relayed as before).
 */
async function asProxyTask(session: ProxySession, upstream: Upstream | undefined, req: JsonRpcRequest, tool: string, signal: AbortSignal): Promise<boolean> {
  if (!upstream || !clientDeclaresTasks(session) || !isObject(req.params?.task)) return false;
  return (await upstreamTaskSupport(session, upstream, tool, signal)) !== 'required';
}

/**
 * A held call the client asked to run as a task; false when it did not (see asProxyTask), and
 * the caller handles it as before (hold or retry mode).
 */
export async function startHeldTask(ctx: ProxyContext, p: PostContext, session: ProxySession, held: HeldCall): Promise<boolean> {
  const { call, verdict, message: req } = held;
  const upstream = session.upstream(call.server);
  if (!upstream || !(await asProxyTask(session, upstream, req, call.tool, p.signal))) return false;
  await runAsTask(ctx, p, session, upstream, req, { server: call.server, tool: call.tool, decisionId: verdict.decisionId }, async ({ taskId, signal, log, answer }) => {
    const onPending = (r: ApprovalRequest) => {
      log.info({ approval: `${r.metadata.namespace}/${r.metadata.name}`, expiresAt: r.spec.expiresAt }, 'call held for approval as a task');
      ctx.tasks.update(taskId, 'working', pendingMessage(r));
      answer();
    };
    let outcome: GateOutcome;
    try {
      outcome = await ctx.gate.release(held, { mode: 'hold', signal, onPending }, p.rc);
    } catch (err) {
      if ((err as Error).name === 'AbortError') {
        log.info({ reason: (err as Error).message }, 'task stopped waiting for approval; its approval request stays');
        return false;
      }
      log.error({ err: (err as Error).message }, 'task failed while waiting for approval');
      ctx.tasks.finish(taskId, 'failed', (err as Error).message, { error: { code: ErrorCodes.internalError, message: (err as Error).message } });
      ctx.metrics?.task?.('failed');
      return false;
    }
    if (outcome.kind !== 'allow') {
      log.info({ code: outcome.refusal.error.code }, 'task ended without release');
      ctx.tasks.finish(taskId, 'failed', outcome.refusal.error.message, { error: outcome.refusal.error });
      ctx.metrics?.task?.('failed');
      return false;
    }
    ctx.tasks.update(taskId, 'working', 'approved; the call is running upstream');
    return true;
  });
  return true;
}

/**
 * An allowed (not held) tools/call the client asked to run as a task, where the upstream does
 * not run it as one: the proxy advertises tasks for every tool (advertise.ts), so it runs it.
 * False when it is not such a call, and it is relayed as before.
 */
export async function startAllowedTask(ctx: ProxyContext, p: PostContext, session: ProxySession, req: JsonRpcRequest, call: { server: string; tool: string }): Promise<boolean> {
  const upstream = session.upstream(call.server);
  if (!upstream || !clientDeclaresTasks(session) || !isObject(req.params?.task)) return false;
  // An upstream that runs the tool as a task itself gets the call, params.task included, as before.
  if ((await upstreamTaskSupport(session, upstream, call.tool, p.signal)) !== undefined) return false;
  await runAsTask(ctx, p, session, upstream, req, call, async () => true);
  return true;
}

/**
 * tasks/* for the proxy's own tasks; false for anything else (another id, a client without
 * tasks, tasks/list when an upstream lists its own), which goes on as before.
 */
export async function handleTaskRequest(ctx: ProxyContext, p: PostContext, session: ProxySession, msg: JsonRpcMessage): Promise<boolean> {
  if (msg.kind !== 'request' || !taskMethods.has(msg.message.method) || !clientDeclaresTasks(session)) return false;
  const req = msg.message;
  const params = req.params ?? {};
  const owner = ownerOf(session, p.caller);
  if (req.method === 'tasks/list') {
    // A cursor is never the proxy's (it lists its own in one page): it is an upstream's, relayed as before.
    if (params.cursor !== undefined) return false;
    const upstream = await upstreamTaskPage(ctx, p, session, msg);
    sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: { tasks: [...ctx.tasks.list(owner), ...upstream.tasks], ...(upstream.nextCursor ? { nextCursor: upstream.nextCursor } : {}) } });
    return true;
  }
  if (!isProxyTaskId(params.taskId)) return false;
  // Someone else's id is answered exactly as an unknown one.
  const notFound = () => refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, `task not found: ${params.taskId as string}`, { method: req.method });
  switch (req.method) {
    case 'tasks/get': {
      const task = ctx.tasks.get(params.taskId, owner);
      if (!task) notFound();
      else sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: task });
      return true;
    }
    case 'tasks/cancel': {
      const cancelled = ctx.tasks.cancel(params.taskId, owner, 'the task was cancelled by request');
      if (!cancelled) notFound();
      else if ('error' in cancelled) refuseRequest(ctx, p, req.id, ErrorCodes.invalidParams, cancelled.error, { method: req.method });
      else {
        ctx.metrics?.task?.('cancelled');
        sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: cancelled.task });
      }
      return true;
    }
    default: {
      let ended: Awaited<ReturnType<TaskStore['outcome']>>;
      try {
        ended = await ctx.tasks.outcome(params.taskId, owner, p.signal);
      } catch {
        return true; // the client went away while waiting
      }
      if (!ended) notFound();
      else if ('result' in ended.outcome) sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, result: ended.outcome.result });
      else sendJson(p.res, 200, { jsonrpc: '2.0', id: req.id, error: ended.outcome.error });
      return true;
    }
  }
}

/**
 * The first page of the fronted server's own tasks, when it lists tasks and the gate lets
 * tasks/list through (passMethods), so its tasks stay listed beside the proxy's.
 */
async function upstreamTaskPage(ctx: ProxyContext, p: PostContext, session: ProxySession, msg: JsonRpcMessage): Promise<{ tasks: unknown[]; nextCursor?: string }> {
  const none = { tasks: [] };
  const server = session.fronted;
  const upstream = server === undefined ? undefined : session.upstream(server);
  const caps = upstream?.session.initializeResult?.capabilities as { tasks?: { list?: unknown } } | undefined;
  if (!upstream || !isObject(caps?.tasks?.list)) return none;
  const admitted = await ctx.gate.admit(msg, { ...p.rc, caller: p.caller, naming: { server: server! }, listings: 'filtered', signal: p.signal });
  if (admitted.kind !== 'allow') return none;
  try {
    const page = await upstream.session.call('tasks/list', {}, p.signal) as { tasks?: unknown; nextCursor?: unknown };
    return { tasks: Array.isArray(page?.tasks) ? page.tasks : [], ...(typeof page?.nextCursor === 'string' ? { nextCursor: page.nextCursor } : {}) };
  } catch (err) {
    ctx.log.warn({ server, err: (err as Error).message }, 'upstream tasks/list failed; only the proxy\'s tasks are listed');
    return none;
  }
}
