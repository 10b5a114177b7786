// The client's GET stream: one downstream SSE stream merging the GET streams of every upstream
// server of the session. Upstreams without one (405) are left out; when none has one the client
// gets the 405 itself. An upstream stream that ends or fails is reopened with Last-Event-ID
// (with capped, jittered backoff, never sooner than the server's `retry`) for as long as the
// client keeps its stream open.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Backoff } from '../../../pkg/retry/backoff.ts';
import { sendJsonRpcError, transportErrorCode } from './http.ts';
import type { ProxySession, Upstream } from './session.ts';
import { SseWriter, type SseResumeState } from './sse.ts';

export interface GetStreamOptions {
  res: ServerResponse;
  session: ProxySession;
  log: Logger;
  keepAliveMs: number;
  /** First reconnect delay; doubles (jittered) up to 30 s, reset by every message. */
  reconnectMs: number;
  /** How long the stream waits for a client that went away to resume it. */
  graceMs: number;
}

export const noStreamMessage = 'no upstream server offers a server-to-client stream (GET); use the POST responses';

/** Whether some upstream of the session may have a GET stream (servers known to have none are left out). */
export function hasStreamCandidate(session: ProxySession): boolean {
  return session.upstreams().some((u) => u.session.streamSupported !== false);
}

/**
 * The caller (server.ts) has refused the GET through the gate when hasStreamCandidate is false.
 * The stream is resumable: a client that loses it GETs with Last-Event-ID within graceMs and is
 * sent what it missed (server.ts resumeStream); meanwhile the upstream streams keep being read.
 */
export async function openMergedStream(o: GetStreamOptions): Promise<void> {
  const { res, session } = o;
  if (session.getStreamConnected) {
    sendJsonRpcError(res, 409, null, transportErrorCode, 'this session already has an open GET stream; only one is allowed');
    return;
  }
  // A new stream (not a resumption) replaces one whose client went away.
  session.getWriter?.close();
  const abort = new AbortController();
  // DELETE (or expiry) ends the session: its GET stream ends with it.
  const unregister = session.onClose(() => abort.abort());
  abort.signal.addEventListener('abort', () => unregister(), { once: true });
  // Servers known to have no GET stream are left out. The others are opened in the background:
  // some servers send their stream's headers only with the first event, and the client must
  // not wait for that. If every one of them then says 405, the stream ends and the client's
  // next GET gets the 405.
  const candidates = session.upstreams().filter((u) => u.session.streamSupported !== false);
  if (candidates.length === 0) {
    sendJsonRpcError(res, 405, null, transportErrorCode, noStreamMessage, undefined, { allow: 'POST, DELETE' });
    return;
  }
  const writer = new SseWriter(res, {}, o.keepAliveMs, {
    stream: session.replay.open(), prime: session.protocolVersion >= '2025-11-25', graceMs: o.graceMs, onAbandoned: () => abort.abort(),
  });
  const deliver = (m: Record<string, unknown>) => writer.send(m);
  session.deliver = deliver;
  const handle = { get connected() { return writer.connected; }, close: () => abort.abort() };
  session.getWriter = handle;
  abort.signal.addEventListener('abort', () => {
    if (session.deliver === deliver) session.deliver = undefined;
    if (session.getWriter === handle) session.getWriter = undefined;
    writer.close();
  }, { once: true });
  o.log.debug({ session: session.id.slice(0, 8), upstreams: candidates.map((u) => u.session.name) }, 'GET stream opened');
  await Promise.all(candidates.map((u) => pump(o, u, writer, abort.signal)));
  abort.abort();
}

async function pump(o: GetStreamOptions, u: Upstream, writer: SseWriter, signal: AbortSignal): Promise<void> {
  const server = u.session.name;
  const resume: SseResumeState = {};
  const backoff = new Backoff({ initialMs: o.reconnectMs, maxMs: Math.max(o.reconnectMs, 30_000) });
  while (!signal.aborted && !writer.closed) {
    try {
      const res = await u.session.openStream(signal, resume.lastEventId || undefined);
      if (!res) return;
      for await (const m of u.session.messages(res, resume)) {
        writer.send(o.session.fromUpstream(server, m.message));
        backoff.reset();
      }
    } catch (err) {
      if (signal.aborted) return;
      o.log.warn({ server, err: (err as Error).message }, 'upstream GET stream failed; reopening');
    }
    await sleep(backoff.next(resume.retryMs), undefined, { signal }).catch(() => undefined);
  }
}
