// OPA's bundle service API (docs: management-bundles "Bundle Service API"; client:
// v1/download/download.go), serving GET /bundles/<name> from a BundleStore:
//   - 200 with the archive and ETag: "<revision>"; 304 when If-None-Match names the current
//     revision; 404 for an unknown bundle.
//   - Long polling: OPA sends `Prefer: modes=snapshot,delta` and, once the server has shown
//     support, `...;wait=N`. Support is shown by answering 200 with Content-Type
//     application/vnd.openpolicyagent.bundles (any other type makes OPA fall back to periodic
//     polling), so every reply to a client that sends Prefer carries it. With wait=N and a
//     matching If-None-Match the request is held until the revision changes (200 with the
//     new bundle) or N seconds pass (304); OPA then asks again at once.
//   - Every caller presents a Kubernetes service-account token (Authorization: Bearer),
//     checked by the injected authenticator: missing or invalid → 401, not an allowed
//     service account → 403, authenticator unavailable → 503.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { errorMessage, type Logger } from '../../../pkg/observability/log.ts';
import { bundleContentType, longPollContentType } from '../../../pkg/bundle/protocol.ts';
import type { BundleMetrics } from './metrics.ts';
import type { BundleStore, StoredBundle } from './store.ts';
import { describeCertificate, loadTlsPair, watchTlsFiles, type BundleTls } from './tls.ts';
import { AuthenticationUnavailableError, type Authenticator, type Caller } from './token-review.ts';

const serviceAccountPrefix = 'system:serviceaccount:';

export interface BundleHandlerOptions {
  store: BundleStore;
  authenticate: Authenticator;
  /**
   * Service accounts allowed to pull, as usernames ("system:serviceaccount:<ns>:<name>", or
   * "system:serviceaccount:<ns>:*" for a namespace). Absent or empty: any service account.
   */
  allow?: readonly string[];
  /** Upper bound on a long-poll wait; a longer wait=N is served as this. Default 300 s. */
  maxWaitSeconds?: number;
  /** Default '/bundles/'. */
  pathPrefix?: string;
  metrics?: BundleMetrics;
  log?: Logger;
}

export interface BundleHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Answers every held long poll with 304 now and stops holding new ones (for shutdown). */
  drain(): void;
}

/** The `wait` of a Prefer header (RFC 7240 as OPA writes it: "modes=snapshot,delta;wait=30"). */
export function parsePrefer(header: string | string[] | undefined): { present: boolean; waitSeconds: number } {
  const value = Array.isArray(header) ? header.join(';') : header;
  if (value === undefined || value.trim() === '') return { present: false, waitSeconds: 0 };
  let waitSeconds = 0;
  for (const pref of value.split(/[;,]/)) {
    const m = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*$/i.exec(pref);
    if (m) waitSeconds = Number(m[1]);
  }
  return { present: true, waitSeconds };
}

/** If-None-Match against one entity tag, with weak comparison as RFC 9110 prescribes for it. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function allowed(caller: Caller, allow: readonly string[] | undefined): boolean {
  if (!caller.username.startsWith(serviceAccountPrefix)) return false;
  if (!allow || allow.length === 0) return true;
  return allow.some((entry) => entry.endsWith(':*')
    ? caller.username.startsWith(entry.slice(0, -1)) && caller.username.split(':').length === 4
    : entry === caller.username);
}

export function createBundleHandler(opts: BundleHandlerOptions): BundleHandler {
  const prefix = opts.pathPrefix ?? '/bundles/';
  const maxWait = opts.maxWaitSeconds ?? 300;
  const drainer = new AbortController();
  const log = opts.log;

  const sendError = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    // OPA's own error shape, so its debug log shows something useful.
    const body = JSON.stringify({ code, message });
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  };

  const sendBundle = (req: IncomingMessage, res: ServerResponse, bundle: StoredBundle, longPoll: boolean) => {
    res.writeHead(200, {
      'content-type': longPoll ? longPollContentType : bundleContentType,
      'content-length': bundle.archive.length,
      etag: bundle.etag,
      'cache-control': 'no-cache',
      vary: 'Prefer',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.end(bundle.archive);
    opts.metrics?.servedBytes.inc(bundle.archive.length);
  };

  const notModified = (res: ServerResponse, bundle: StoredBundle) => {
    // While draining, ask the client to reconnect (to another replica) instead of reusing this socket.
    const close = drainer.signal.aborted ? { connection: 'close' } : {};
    res.writeHead(304, { etag: bundle.etag, 'cache-control': 'no-cache', vary: 'Prefer', ...close }).end();
  };

  const authenticate = async (req: IncomingMessage, res: ServerResponse): Promise<Caller | undefined> => {
    const challenge = { 'www-authenticate': 'Bearer realm="toolgate-bundles"' };
    const token = bearerToken(req);
    if (!token) {
      sendError(res, 401, 'unauthorized', 'a Kubernetes service-account token is required (Authorization: Bearer <token>)', challenge);
      return undefined;
    }
    let caller: Caller | undefined;
    try {
      caller = await opts.authenticate(token);
    } catch (err) {
      const unavailable = err instanceof AuthenticationUnavailableError;
      log?.warn({ err: errorMessage(err) }, 'could not authenticate a bundle client');
      sendError(res, 503, 'unavailable', unavailable ? 'the token could not be verified right now; retry later' : 'internal error', { 'retry-after': '5' });
      return undefined;
    }
    if (!caller) {
      sendError(res, 401, 'unauthorized', 'the bearer token was rejected by the Kubernetes API server (TokenReview)', challenge);
      return undefined;
    }
    if (!allowed(caller, opts.allow)) {
      log?.info({ user: caller.username }, 'bundle client is not an allowed service account');
      sendError(res, 403, 'forbidden', `${caller.username} may not pull bundles`);
      return undefined;
    }
    return caller;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://bundle.invalid').pathname;
    if (!path.startsWith(prefix) || path.length === prefix.length) {
      sendError(res, 404, 'not_found', `no such resource; bundles are served under ${prefix}<name>`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, 'method_not_allowed', 'use GET', { allow: 'GET, HEAD' });
      return;
    }
    const caller = await authenticate(req, res);
    if (!caller) return;
    let name: string;
    try {
      name = decodeURIComponent(path.slice(prefix.length));
    } catch {
      sendError(res, 400, 'bad_request', 'malformed bundle name');
      return;
    }
    const current = opts.store.get(name);
    if (!current) {
      sendError(res, 404, 'not_found', `bundle ${JSON.stringify(name)} not found`);
      return;
    }
    const prefer = parsePrefer(req.headers.prefer);
    if (!etagMatches(req.headers['if-none-match'], current.etag)) {
      log?.debug({ bundle: name, revision: current.revision, user: caller.username }, 'serving bundle');
      sendBundle(req, res, current, prefer.present);
      return;
    }
    const wait = Math.min(prefer.waitSeconds, maxWait);
    if (wait === 0 || drainer.signal.aborted) {
      notModified(res, current);
      return;
    }
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    opts.metrics?.longPollsWaiting.inc();
    const result = await opts.store.waitForChange(name, current.revision, wait * 1000, AbortSignal.any([gone.signal, drainer.signal]));
    opts.metrics?.longPollsWaiting.dec();
    if (!result.changed) {
      const outcome = result.reason === 'timeout' ? 'timeout' : gone.signal.aborted ? 'aborted' : 'drained';
      opts.metrics?.longPolls.inc({ outcome });
      if (outcome !== 'aborted') notModified(res, current);
      return;
    }
    opts.metrics?.longPolls.inc({ outcome: 'changed' });
    if (!result.bundle) {
      sendError(res, 404, 'not_found', `bundle ${JSON.stringify(name)} was removed`);
      return;
    }
    log?.debug({ bundle: name, revision: result.bundle.revision, user: caller.username }, 'long poll answered with a new revision');
    sendBundle(req, res, result.bundle, true);
  };

  return {
    handle(req, res) {
      res.once('finish', () => opts.metrics?.requests.inc({ code: String(res.statusCode) }));
      serve(req, res).catch((err: unknown) => {
        log?.error({ err: errorMessage(err) }, 'bundle request failed');
        if (!res.headersSent) sendError(res, 500, 'internal_error', 'internal error');
        else res.destroy();
      });
    },
    drain() {
      drainer.abort();
    },
  };
}

export interface BundleServerOptions extends BundleHandlerOptions {
  port: number;
  host?: string;
  /** Serve HTTPS with this certificate and key (files are re-read, so a renewed Secret takes effect). */
  tls?: BundleTls;
}

export interface BundleServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startBundleServer(opts: BundleServerOptions): Promise<BundleServer> {
  const handler = createBundleHandler(opts);
  const listener = (req: IncomingMessage, res: ServerResponse) => handler.handle(req, res);
  const pair = opts.tls ? loadTlsPair(opts.tls) : undefined;
  const server: Server = pair ? createHttpsServer({ cert: pair.cert, key: pair.key }, listener) : createHttpServer(listener);
  if (pair) {
    const certificate = describeCertificate(pair.cert);
    if (certificate.expired) opts.log?.warn({ certificate }, 'the bundle service certificate has expired: authorizers will refuse it');
    else opts.log?.info({ certificate }, 'bundle service serves TLS');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const stopWatching = opts.tls && pair ? watchTlsFiles(server as HttpsServer, opts.tls, pair, opts.log) : () => undefined;
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    close: async () => {
      stopWatching();
      handler.drain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Drained polls are answered right now; their keep-alive sockets go idle a moment later.
      const sweep = setInterval(() => server.closeIdleConnections(), 25);
      const grace = setTimeout(() => server.closeAllConnections(), 2_000);
      server.closeIdleConnections();
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
    },
  };
}
