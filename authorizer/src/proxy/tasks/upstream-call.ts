// A released task's tools/call, made upstream with no client connection to relay to: the answer
// is kept as the task's outcome. What the server sends meanwhile (sampling, elicitation,
// progress) reaches the client on its GET stream, as anything outside a relayed request does.
import type { ProxySession, Upstream } from '../session.ts';
import { ErrorCodes } from '../../gate/index.ts';
import { internalId, UpstreamError, type UpstreamResponse } from '../upstream.ts';
import type { TaskOutcome } from './store.ts';

type RpcError = Extract<TaskOutcome, { error: unknown }>['error'];

export async function callUpstreamForOutcome(session: ProxySession, upstream: Upstream, params: Record<string, unknown>, signal: AbortSignal): Promise<TaskOutcome> {
  const server = upstream.session.name;
  // The proxy's own id: the client's request was answered with the task already.
  const id = internalId();
  const failure = (message: string): TaskOutcome => ({ error: { code: ErrorCodes.upstreamUnavailable, message: `upstream server "${server}": ${message}`, data: { server } } });
  let res: UpstreamResponse;
  try {
    res = await upstream.session.send({ jsonrpc: '2.0', id, method: 'tools/call', params }, signal);
  } catch (err) {
    if (err instanceof UpstreamError && err.rpcError) return { error: err.rpcError };
    return failure((err as Error).message);
  }
  if (!res.ok || res.status === 202) {
    const text = await res.text().catch(() => '');
    try {
      const body = JSON.parse(text) as { error?: unknown };
      if (body?.error && typeof body.error === 'object') return { error: body.error as RpcError };
    } catch {
      // not JSON: the status says it
    }
    return failure(`answered HTTP ${res.status}`);
  }
  try {
    for await (const m of upstream.session.messages(res)) {
      const message = m.message;
      if (typeof message.method === 'string') {
        session.receive(server, message);
        continue;
      }
      if (message.id !== id) continue;
      if (message.error && typeof message.error === 'object') return { error: message.error as RpcError };
      if (message.result && typeof message.result === 'object' && !Array.isArray(message.result)) return { result: message.result as Record<string, unknown> };
      return failure('answered with neither a result object nor an error');
    }
  } catch (err) {
    return failure(`the stream failed: ${(err as Error).message}`);
  }
  return failure('closed the stream without answering');
}
