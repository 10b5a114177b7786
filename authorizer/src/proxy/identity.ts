// What the client is told the server is (the initialize result). Fronting one server, the
// proxy is that server: its initialize result is relayed as it sent it. Aggregating several,
// the proxy is toolgate, and it claims only what it can keep: a capability some server has
// and the proxy can route across servers, each flag true when some server sets it.
import { isObject } from '../../../pkg/lang/is-object.ts';

/**
 * Capabilities the proxy routes when it aggregates: tools (prefixed names), prompts (prefixed),
 * resources (routed by which server listed the URI or template), completions (by `ref`),
 * logging (fanned out). Others (tasks, experimental) name server-side state the proxy cannot
 * attribute to one server, so they are not claimed.
 */
export const aggregatedCapabilities = ['tools', 'prompts', 'resources', 'completions', 'logging'] as const;

export interface ServerIdentity {
  server: string;
  /** The server's initialize result; undefined when it could not be initialized. */
  result: Record<string, unknown> | undefined;
}

/** The merged capabilities of several servers (see aggregatedCapabilities). */
export function mergeCapabilities(servers: readonly ServerIdentity[]): Record<string, Record<string, unknown>> {
  // tools are always answered: the proxy serves tools/list itself and says list_changed on bundle swaps.
  const out: Record<string, Record<string, unknown>> = { tools: { listChanged: true } };
  for (const { result } of servers) {
    const caps = isObject(result?.capabilities) ? result.capabilities : {};
    for (const name of aggregatedCapabilities) {
      const cap = caps[name];
      if (!isObject(cap)) continue;
      const merged = out[name] ??= {};
      // Only boolean flags merge meaningfully (subscribe, listChanged): true when one server says so.
      for (const [flag, v] of Object.entries(cap)) if (v === true) merged[flag] = true;
    }
  }
  return out;
}

/** Each server's instructions, in order, headed by the server they come from; undefined when none gives any. */
export function joinInstructions(servers: readonly ServerIdentity[]): string | undefined {
  const parts = servers.flatMap(({ server, result }) => {
    const text = result?.instructions;
    return typeof text === 'string' && text.trim() !== '' ? [`## Server "${server}"\n\n${text.trim()}`] : [];
  });
  return parts.length ? parts.join('\n\n') : undefined;
}

/** The initialize result of an aggregating endpoint. */
export function aggregateInitializeResult(protocolVersion: string, serverInfo: { name: string; version: string }, servers: readonly ServerIdentity[]): Record<string, unknown> {
  const instructions = joinInstructions(servers);
  return { protocolVersion, capabilities: mergeCapabilities(servers), serverInfo, ...(instructions ? { instructions } : {}) };
}
