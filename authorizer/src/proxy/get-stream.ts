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
 * Starts reading the upstream GET streams of the session (each once, for the session's life),
 * from the moment the client is initialized: a server sends sampling, elicitation or roots
 * requests there, and one sent before the client's own GET stream is open would otherwise be
 * lost (the upstream has no stream to write it to). What arrives meanwhile is held by the
 * session (ProxySession.receive) and handed to the client's GET stream when it opens.
 */
export function startUpstreamStreams(session: ProxySession, log: Logger, reconnectMs = 1_000): Promise<void> {
  const abort = new AbortController();
  const unregister = session.onClose(() => abort.abort());
  const started = session.upstreams().filter((u) => u.session.streamSupported !== false && !session.pumped.has(u.session.name));
  for (const u of started) session.pumped.add(u.session.name);
  return Promise.all(started.map((u) => pump(session, log, reconnectMs, u, abort.signal))).then(() => { unregister(); });
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
  // Upstreams that joined the session since (a bundle brought them) start being read now.
  void startUpstreamStreams(session, o.log, o.reconnectMs);
  const candidates = session.upstreams().filter((u) => u.session.streamSupported !== false);
  if (candidates.length === 0) {
    sendJsonRpcError(res, 405, null, transportErrorCode, noStreamMessage, undefined, { allow: 'POST, DELETE' });
    return;
  }
  const writer = new SseWriter(res, {}, o.keepAliveMs, {
    stream: session.replay.open(), prime: session.protocolVersion >= '2025-11-25', graceMs: o.graceMs, onAbandoned: () => abort.abort(),
  });
  const deliver = (m: Record<string, unknown>) => writer.send(m);
  const handle = { get connected() { return writer.connected; }, close: () => abort.abort() };
  session.getWriter = handle;
  session.attach(deliver);
  abort.signal.addEventListener('abort', () => {
    if (session.deliver === deliver) session.deliver = undefined;
    if (session.getWriter === handle) session.getWriter = undefined;
    writer.close();
  }, { once: true });
  o.log.debug({ session: session.id.slice(0, 8), upstreams: candidates.map((u) => u.session.name) }, 'GET stream opened');
  // The stream lasts while the client keeps it (or resumes it in time) and some upstream may
  // still offer one: when every one has said 405, it ends and the client's next GET gets the 405.
  while (!abort.signal.aborted) {
    await sleep(1_000, undefined, { signal: abort.signal }).catch(() => undefined);
    if (!hasStreamCandidate(session)) abort.abort();
  }
}

async function pump(session: ProxySession, log: Logger, reconnectMs: number, u: Upstream, signal: AbortSignal): Promise<void> {
  const server = u.session.name;
  const resume: SseResumeState = {};
  const backoff = new Backoff({ initialMs: reconnectMs, maxMs: Math.max(reconnectMs, 30_000) });
  try {
    while (!signal.aborted) {
      try {
        const res = await u.session.openStream(signal, resume.lastEventId || undefined);
        if (!res) return;
        for await (const m of u.session.messages(res, resume)) {
          session.receive(server, m.message);
          backoff.reset();
        }
      } catch (err) {
        if (signal.aborted) return;
        log.warn({ server, err: (err as Error).message }, 'upstream GET stream failed; reopening');
      }
      await sleep(backoff.next(resume.retryMs), undefined, { signal }).catch(() => undefined);
    }
  } finally {
    session.pumped.delete(server);
  }
}
