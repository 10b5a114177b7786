// What the proxy tells a client that declared tasks (2025-11-25 `capabilities.tasks`) about
// task support, so that a client following the spec asks for tasks at all (it MUST NOT without
// `tasks.requests.tools.call`, nor for a tool whose `execution.taskSupport` is absent):
//  - initialize: `tasks.list`, `tasks.cancel` and `tasks.requests.tools.call`, added to what the
//    fronted server itself declares under `tasks` (kept as it is);
//  - tools/list: `execution.taskSupport: "optional"` on every tool the server does not itself
//    run as a task; a tool the server runs as a task keeps the server's own value.
// The proxy runs such calls as its own tasks (serve.ts): held ones wait for approval, allowed
// ones go upstream plainly in the background. A client that did not declare tasks sees the
// server's initialize result and tools unchanged.
import { isObject } from '../../../../pkg/lang/is-object.ts';
import type { UpstreamTool } from '../catalog.ts';
import type { ProxySession, Upstream } from '../session.ts';
import { clientDeclaresTasks } from './serve.ts';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isObject(v) ? v : {});

/**
 * How the fronted server itself runs `tool` as a task: its `execution.taskSupport` when it
 * declares `tasks.requests.tools.call`; undefined when it does not run it as a task. An
 * aggregating endpoint runs every task itself (the servers' task ids could not be routed back).
 */
export async function upstreamTaskSupport(session: ProxySession, upstream: Upstream, tool: string, signal?: AbortSignal): Promise<'optional' | 'required' | undefined> {
  if (session.fronted === undefined || !serverRunsToolTasks(upstream)) return undefined;
  let tools: readonly UpstreamTool[];
  try {
    tools = await upstream.catalog.tools(signal);
  } catch {
    return undefined;
  }
  const support = obj(tools.find((t) => t.name === tool)?.execution).taskSupport;
  return support === 'optional' || support === 'required' ? support : undefined;
}

function serverRunsToolTasks(upstream: Upstream): boolean {
  const tasks = obj(obj(upstream.session.initializeResult?.capabilities).tasks);
  return isObject(obj(obj(tasks.requests).tools).call);
}

/** The initialize result, with the proxy's task capability for a client that declared tasks. */
export function withTaskCapability(result: Obj, session: ProxySession): Obj {
  if (!clientDeclaresTasks(session)) return result;
  const caps = obj(result.capabilities);
  const tasks = obj(caps.tasks);
  const requests = obj(tasks.requests);
  return {
    ...result,
    capabilities: { ...caps, tasks: { ...tasks, list: obj(tasks.list), cancel: obj(tasks.cancel), requests: { ...requests, tools: { ...obj(requests.tools), call: obj(obj(requests.tools).call) } } } },
  };
}

/** A server's tools as listed to a client that declared tasks: each may run as a task. */
export function offerTasks(session: ProxySession, upstream: Upstream, tools: readonly UpstreamTool[]): UpstreamTool[] {
  if (!clientDeclaresTasks(session)) return [...tools];
  const serverRuns = session.fronted !== undefined && serverRunsToolTasks(upstream);
  return tools.map((t) => {
    const support = obj(t.execution).taskSupport;
    if (serverRuns && (support === 'optional' || support === 'required')) return t;
    return { ...t, execution: { ...obj(t.execution), taskSupport: 'optional' } };
  });
}
