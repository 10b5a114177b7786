// Pulls one policy bundle from the operator's bundle service the way OPA's bundle plugin does
// (v1/download/download.go): If-None-Match with the current ETag and `Prefer: modes=snapshot;
// wait=N`, so the service holds the request until a new revision exists. A 200 is opened with a
// size limit, its signature verified against the configured key (unsigned or tampered bundles
// are refused), and policy.wasm + data.json are swapped into the PolicyEngine. Anything that
// goes wrong leaves the last good bundle in force and retries with capped, jittered backoff.
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultMaxBundleBytes, openBundle, type OpenedBundle } from '../../../pkg/bundle/bundle.ts';
import { longPollContentType } from '../../../pkg/bundle/protocol.ts';
import { BundleSignatureError, type VerifyOptions } from '../../../pkg/bundle/sign.ts';
import { serviceAccountTokenPath } from '../../../pkg/kube/service-account.ts';
import { Backoff, jittered, type BackoffOptions } from '../../../pkg/retry/backoff.ts';
import { retryAfterMs } from '../../../pkg/retry/retry-after.ts';
import { errorMessage, type Logger } from '../../../pkg/observability/log.ts';
import type { PolicyEngine } from '../../../pkg/policy/engine/engine.ts';
import type { GatewayConfig } from '../gate/types.ts';
import { FileSource } from './file-source.ts';
import { httpGet, type GetResult } from './http.ts';
import type { BundleClientMetrics } from './metrics.ts';
import { bundleUrl, etagRevision, gatewayConfigOf, parseBundleName, refusalReason } from './parse.ts';

export interface BundleLoaded {
  bundle: string;
  revision: string;
  /** The revision it replaced; undefined for the first load. */
  previous: string | undefined;
  data: Record<string, unknown>;
  /** data.toolgate.gateway; undefined when the bundle carries none. */
  gateway: GatewayConfig | undefined;
}

export interface BundleClientOptions {
  /** "<namespace>/<name>" of the McpSecurityPolicy. */
  bundle: string;
  /** Base URL of the operator's bundle service, e.g. https://toolgate-bundles.toolgate-system.svc:8443. */
  service: string;
  engine: PolicyEngine;
  /** The operator's public key(s), as OPA's `keys` + `signing` configuration. */
  verification: VerifyOptions;
  /** Service-account token file; default the projected token path. Ignored when `token` is given. */
  tokenPath?: string;
  /** A token source shared by several clients. */
  token?: FileSource;
  /** PEM CA bundle for an https service (re-read like the token). */
  caFile?: string;
  /** Long-poll wait asked of the service. Default 60 s. */
  waitSeconds?: number;
  /** Polls start at least this far apart, whatever the service answers. Default 1 s. */
  minDelayMs?: number;
  /** Poll period when the service does not support long polling. Default 30 s. */
  pollIntervalMs?: number;
  backoff?: BackoffOptions;
  /** Largest bundle accepted, compressed and inflated. Default 64 MiB. */
  maxBundleBytes?: number;
  metrics?: BundleClientMetrics;
  log?: Logger;
  onLoaded?: (loaded: BundleLoaded) => void;
}

type Refusal = 'invalid_bundle' | 'signature' | 'engine';

class RefusedBundle extends Error {
  readonly result: Refusal;
  constructor(result: Refusal, message: string) {
    super(message);
    this.result = result;
  }
}

export class BundleClient {
  readonly bundle: string;
  readonly url: URL;
  readonly #opts: BundleClientOptions;
  readonly #token: FileSource;
  readonly #ca: FileSource | undefined;
  readonly #backoff: Backoff;
  readonly #wait: number;
  readonly #minDelay: number;
  readonly #log: Logger | undefined;
  #etag: string | undefined;
  #revision: string | undefined;
  #longPoll = false;
  #refreshToken = false;
  #lastReason: string | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: BundleClientOptions) {
    parseBundleName(opts.bundle);
    this.bundle = opts.bundle;
    this.url = bundleUrl(opts.service, opts.bundle);
    this.#opts = opts;
    this.#token = opts.token ?? new FileSource({ path: opts.tokenPath ?? serviceAccountTokenPath, what: 'service-account token' });
    this.#ca = opts.caFile ? new FileSource({ path: opts.caFile, what: 'bundle service CA bundle', refreshMs: 300_000 }) : undefined;
    this.#backoff = new Backoff(opts.backoff);
    this.#wait = Math.max(0, Math.floor(opts.waitSeconds ?? 60));
    this.#minDelay = opts.minDelayMs ?? 1_000;
    this.#log = opts.log?.child({ bundle: opts.bundle });
  }

  /** True once a bundle has been loaded; stays true while later polls fail (the last good one is in force). */
  get ready(): boolean {
    return this.#revision !== undefined;
  }

  /** The revision in force, undefined before the first load. */
  get revision(): string | undefined {
    return this.#revision;
  }

  /** Why the latest poll or load failed; undefined once one succeeds again. */
  get lastError(): string | undefined {
    return this.#lastReason;
  }

  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  /** Aborts the in-flight poll (a held long poll included) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let delay: number;
      try {
        delay = await this.#pollOnce(signal);
      } catch (err) {
        // Unreachable by design (every step catches its own errors); never let the loop die.
        delay = this.#failed(`unexpected error: ${errorMessage(err)}`);
      }
      if (delay > 0 && !signal.aborted) await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }

  /** One request and its consequences; returns how long to wait before the next one. */
  async #pollOnce(signal: AbortSignal): Promise<number> {
    let token: string;
    let ca: string | undefined;
    try {
      token = await this.#token.get(this.#refreshToken);
      this.#refreshToken = false;
      ca = await this.#ca?.get();
    } catch (err) {
      return this.#failed(errorMessage(err));
    }
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      prefer: `modes=snapshot;wait=${this.#wait}`,
      'user-agent': 'toolgate-authorizer',
    };
    if (this.#etag) headers['if-none-match'] = this.#etag;
    const started = performance.now();
    let res: GetResult;
    try {
      res = await httpGet(this.url, {
        headers,
        signal,
        // The service answers a held poll after `wait`; allow generously for a slow transfer.
        timeoutMs: (this.#wait + 30) * 1000,
        maxBodyBytes: this.#opts.maxBundleBytes ?? defaultMaxBundleBytes,
        ...(ca ? { ca } : {}),
      });
    } catch (err) {
      if (signal.aborted) return 0;
      this.#opts.metrics?.polls.inc({ bundle: this.bundle, outcome: 'error' });
      return this.#failed(`cannot reach the bundle service at ${this.url.origin}: ${errorMessage(err)}`);
    }
    this.#opts.metrics?.polls.inc({ bundle: this.bundle, outcome: String(res.status) });
    if (res.status === 200) return await this.#activate(res);
    if (res.status === 304 && this.#etag) {
      this.#recovered();
      if (!this.#longPoll) return jittered(this.#opts.pollIntervalMs ?? 30_000);
      // A held poll comes back after `wait`; one answered at once (a draining replica, a
      // service with a shorter wait) must not turn into a tight loop.
      return Math.max(0, this.#minDelay - (performance.now() - started));
    }
    if (res.status === 401) this.#refreshToken = true; // kubelet may have rotated it meanwhile
    const retryAfter = res.status === 429 || res.status >= 500 ? (retryAfterMs(firstHeader(res.headers['retry-after'])) ?? 0) : 0;
    return this.#failed(`bundle service refused ${this.url.pathname}: ${refusalReason(res.status, res.body)}`, retryAfter);
  }

  async #activate(res: GetResult): Promise<number> {
    const etag = firstHeader(res.headers.etag);
    this.#longPoll = firstHeader(res.headers['content-type'])?.split(';')[0]?.trim().toLowerCase() === longPollContentType;
    const previous = this.#revision;
    let revision = etagRevision(etag) ?? '';
    try {
      const opened = await this.#open(res.body);
      // The manifest is covered by the signature; the ETag is not.
      revision = opened.manifest.revision || revision;
      if (!opened.wasm) throw new RefusedBundle('invalid_bundle', 'the bundle has no policy.wasm');
      let gateway: GatewayConfig | undefined;
      try {
        gateway = gatewayConfigOf(opened.data, this.bundle);
      } catch (err) {
        throw new RefusedBundle('invalid_bundle', errorMessage(err));
      }
      const loadStarted = performance.now();
      try {
        await this.#opts.engine.load(opened.wasm, opened.data, revision);
      } catch (err) {
        throw new RefusedBundle('engine', errorMessage(err));
      }
      this.#etag = etag;
      this.#revision = revision;
      this.#recovered();
      const m = this.#opts.metrics;
      if (previous !== undefined && previous !== revision) m?.info.remove({ bundle: this.bundle, revision: previous });
      m?.info.set({ bundle: this.bundle, revision }, 1);
      m?.loads.inc({ bundle: this.bundle, result: 'success' });
      m?.lastLoad.set({ bundle: this.bundle }, Date.now() / 1000);
      this.#log?.info({ revision, previous, bytes: res.body.length, loadMs: Math.round(performance.now() - loadStarted), gateway: gateway !== undefined }, 'bundle loaded');
      try {
        this.#opts.onLoaded?.({ bundle: this.bundle, revision, previous, data: opened.data, gateway });
      } catch (err) {
        this.#log?.error({ err: errorMessage(err), revision }, 'onLoaded handler failed');
      }
      // Without an ETag the next request cannot be conditional: poll periodically, never in a loop.
      return etag ? 0 : jittered(this.#opts.pollIntervalMs ?? 30_000);
    } catch (err) {
      const result: Refusal = err instanceof RefusedBundle ? err.result : 'invalid_bundle';
      this.#opts.metrics?.loads.inc({ bundle: this.bundle, result });
      // Remember the refused ETag: the next poll waits for a newer revision instead of
      // downloading the same bad bundle again and again.
      if (etag) this.#etag = etag;
      return this.#failed(`refused bundle${revision ? ` revision ${revision}` : ''} (${result}): ${errorMessage(err)}; ${previous ? `revision ${previous} stays in force` : 'no bundle in force, every call is denied'}`);
    }
  }

  async #open(archive: Buffer): Promise<OpenedBundle> {
    try {
      return await openBundle(archive, { verify: this.#opts.verification, maxBytes: this.#opts.maxBundleBytes ?? defaultMaxBundleBytes });
    } catch (err) {
      throw new RefusedBundle(err instanceof BundleSignatureError ? 'signature' : 'invalid_bundle', errorMessage(err));
    }
  }

  #failed(reason: string, atLeastMs = 0): number {
    const delay = this.#backoff.next(atLeastMs);
    // A repeated reason is logged quietly: a long outage should not flood the log.
    const level = reason === this.#lastReason ? 'debug' : 'warn';
    this.#log?.[level]({ reason, attempt: this.#backoff.failures, retryInMs: delay, revision: this.#revision }, 'bundle poll failed; retrying');
    this.#lastReason = reason;
    return delay;
  }

  #recovered(): void {
    if (this.#lastReason !== undefined) this.#log?.info({ revision: this.#revision }, 'bundle poll succeeded after earlier failures');
    this.#lastReason = undefined;
    this.#backoff.reset();
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
