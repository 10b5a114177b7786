// Relays one allowed client request to its upstream server and the answer back: a JSON answer
// byte for byte (upstream errors pass through untouched), an SSE answer event by event, with
// the server's own requests and notifications on that stream rewritten for the client
// (session.fromUpstream). When an upstream closes the stream before answering (2025-11-25 SSE
// polling), the proxy resumes it with Last-Event-ID itself, so the client's stream stays open.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCodes, type JsonRpcId } from '../gate/index.ts';
import { sendJson } from './http.ts';
import type { ProxySession, Upstream } from './session.ts';
import type { ReplayLog } from './replay.ts';
import { SseWriter, type SseResumeState } from './sse.ts';
import { UpstreamError, type UpstreamResponse } from './upstream.ts';

/** JSON-RPC internal error: the upstream could not be reached or answered outside the protocol. */
export const upstreamFailureCode = ErrorCodes.upstreamUnavailable;

export interface RelayOptions {
  res: ServerResponse;
  session: ProxySession;
  upstream: Upstream;
  id: JsonRpcId;
  /** The message as it goes upstream (tool name already without the prefix). */
  message: Record<string, unknown>;
  signal: AbortSignal;
  log: Logger;
  keepAliveMs: number;
  /** Resumption attempts after an upstream stream ended without the response. */
  maxResumes?: number;
  /** An SSE stream already open to the client (a call held for approval): the answer goes there. */
  writer?: SseWriter;
  /** Make an SSE answer resumable by the client (event ids, replay window); absent: it ends with the connection. */
  resume?: ResumeOptions;
  /**
   * Told the answer the client gets (the upstream's message, or toolgate's error when the
   * upstream failed) and the upstream's HTTP error status, once: the audit trail's response record.
   */
  onAnswer?: (answer: unknown, httpStatus?: number) => void;
}

export interface ResumeOptions {
  log: ReplayLog;
  prime: boolean;
  graceMs: number;
  /**
   * Called once the answer is resumable: the request no longer stops when the client's
   * connection closes; the returned function stops it (the client did not come back in time).
   */
  detach: () => () => void;
}

export function resumableWriter(res: ServerResponse, keepAliveMs: number, resume: ResumeOptions | undefined): SseWriter {
  if (!resume) return new SseWriter(res, {}, keepAliveMs);
  const stop = resume.detach();
  return new SseWriter(res, {}, keepAliveMs, { stream: resume.log.open(), prime: resume.prime, graceMs: resume.graceMs, onAbandoned: stop });
}

/** Reports the answer; a failing report never breaks the relay (the recorder never throws by contract). */
function report(o: RelayOptions, answer: unknown, httpStatus?: number): void {
  try {
    o.onAnswer?.(answer, httpStatus);
  } catch (err) {
    o.log.warn({ err: (err as Error).message }, 'answer not reported');
  }
}

function parsedOrRaw(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Answers the client with one message: as the JSON body, or as the last event of an open stream. */
function reply(o: RelayOptions, body: unknown, httpStatus?: number): void {
  report(o, body, httpStatus);
  if (!o.writer) return sendJson(o.res, 200, body);
  o.writer.send(body);
  o.writer.close();
}

function failure(o: RelayOptions, message: string, data: Record<string, unknown>): Record<string, unknown> {
  return { jsonrpc: '2.0', id: o.id, error: { code: upstreamFailureCode, message, data: { server: o.upstream.session.name, ...data } } };
}

export async function relayRequest(o: RelayOptions): Promise<void> {
  const server = o.upstream.session.name;
  o.session.trackRequest(o.id, server);
  try {
    let upstreamRes: UpstreamResponse;
    try {
      upstreamRes = await o.upstream.session.send(o.message, o.signal);
    } catch (err) {
      if (o.signal.aborted) return;
      o.log.warn({ server, err: (err as Error).message }, 'upstream request failed');
      reply(o, failure(o, (err as Error).message, {}));
      return;
    }
    if (!upstreamRes.ok || upstreamRes.status === 202) {
      await relayHttpError(o, upstreamRes);
      return;
    }
    const type = (upstreamRes.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      const raw = await upstreamRes.text();
      if (o.onAnswer) report(o, parsedOrRaw(raw));
      if (o.writer) {
        o.writer.sendRaw(raw.trim());
        o.writer.close();
        return;
      }
      o.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(raw)) });
      o.res.end(raw);
      return;
    }
    if (type !== 'text/event-stream') {
      await upstreamRes.body?.cancel();
      reply(o, failure(o, `upstream server "${server}" answered with content type "${type}"`, {}));
      return;
    }
    await relayStream(o, upstreamRes);
  } finally {
    o.session.untrackRequest(o.id);
  }
}

async function relayHttpError(o: RelayOptions, upstreamRes: UpstreamResponse): Promise<void> {
  const text = await upstreamRes.text().catch(() => '');
  // An upstream that answers a JSON-RPC error with an HTTP error status: the error is the
  // upstream's word, passed on as is (with the client's id, which it already carries).
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
      reply(o, { jsonrpc: '2.0', id: o.id, error: body.error }, upstreamRes.status);
      return;
    }
  } catch {
    // not JSON: answered below
  }
  reply(o, failure(o, `upstream server "${o.upstream.session.name}" answered HTTP ${upstreamRes.status}`, { status: upstreamRes.status }), upstreamRes.status);
}

async function relayStream(o: RelayOptions, first: UpstreamResponse): Promise<void> {
  const server = o.upstream.session.name;
  const writer = o.writer ?? resumableWriter(o.res, o.keepAliveMs, o.resume);
  let res: UpstreamResponse | undefined = first;
  const resume: SseResumeState = {};
  let resumes = 0;
  try {
    while (res) {
      let progressed = false;
      for await (const m of o.upstream.session.messages(res, resume)) {
        progressed = true;
        if (typeof m.message.method !== 'string') {
          writer.sendRaw(m.raw);
          if (isAnswer(m.message.id, o.id)) {
            report(o, m.message);
            return;
          }
          continue;
        }
        writer.send(o.session.fromUpstream(server, m.message));
      }
      if (writer.closed || o.signal.aborted) return;
      if (progressed) resumes = 0;
      // Without an event id there is nothing to resume from (an empty id means none, too).
      if (!resume.lastEventId || ++resumes > (o.maxResumes ?? 5)) break;
      // The server says when to come back (SSE polling); a missing or absurd retry is bounded.
      await sleep(Math.min(resume.retryMs ?? 1_000, 30_000), undefined, { signal: o.signal }).catch(() => undefined);
      if (o.signal.aborted) return;
      res = await o.upstream.session.openStream(o.signal, resume.lastEventId);
    }
    const closed = failure(o, `upstream server "${server}" closed the stream without answering`, {});
    report(o, closed);
    writer.send(closed);
  } catch (err) {
    if (o.signal.aborted || writer.closed) return;
    o.log.warn({ server, err: (err as Error).message }, 'upstream stream failed');
    const failed = failure(o, err instanceof UpstreamError ? err.message : `upstream server "${server}": the stream failed: ${(err as Error).message}`, {});
    report(o, failed);
    writer.send(failed);
  } finally {
    writer.close();
  }
}

const isAnswer = (id: unknown, expected: JsonRpcId) => id === expected;
