// Simulated authorizers for the operator soak: `count` long pollers in this process, each with
// its own service-account token, speaking the authorizer's polling protocol with its own HTTP
// code (authorizer/src/bundles/http.ts: a fresh TLS connection per poll, If-None-Match with the
// ETag in force, `Prefer: modes=snapshot;wait=N`, 1 s minimum between polls answered at once,
// backoff on errors). Bundles are not opened: the operator is what is measured.
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from '../../authorizer/src/bundles/http.ts';
import { bundleUrl, etagRevision } from '../../authorizer/src/bundles/parse.ts';

export interface PollerOptions {
  service: string;
  bundle: string;
  tokens: readonly string[];
  ca: string;
  waitSeconds: number;
}

export interface PollerStats {
  /** Revisions each poller received, in order. */
  revisions: string[][];
  answers: Record<string, number>;
  errors: Record<string, number>;
  firstError: Record<string, string>;
}

export interface Pollers {
  stats: PollerStats;
  /** Pollers holding a request open right now. */
  waiting(): number;
  stop(): Promise<void>;
}

export function startPollers(o: PollerOptions): Pollers {
  const url = bundleUrl(o.service, o.bundle);
  const abort = new AbortController();
  const stats: PollerStats = { revisions: o.tokens.map(() => []), answers: {}, errors: {}, firstError: {} };
  let waiting = 0;
  const poller = async (i: number) => {
    let etag: string | undefined;
    while (!abort.signal.aborted) {
      const started = performance.now();
      const headers: Record<string, string> = { authorization: `Bearer ${o.tokens[i]!}`, prefer: `modes=snapshot;wait=${o.waitSeconds}`, 'user-agent': 'toolgate-authorizer' };
      if (etag) headers['if-none-match'] = etag;
      let delay = 0;
      waiting++;
      try {
        const res = await httpGet(url, { headers, signal: abort.signal, timeoutMs: (o.waitSeconds + 30) * 1000, maxBodyBytes: 64 * 1024 * 1024, ca: o.ca });
        stats.answers[res.status] = (stats.answers[res.status] ?? 0) + 1;
        if (res.status === 200) {
          etag = String(res.headers.etag);
          stats.revisions[i]!.push(etagRevision(etag) ?? '?');
        } else if (res.status === 304) {
          delay = Math.max(0, 1_000 - (performance.now() - started));
        } else {
          const k = `HTTP ${res.status}`;
          stats.errors[k] = (stats.errors[k] ?? 0) + 1;
          stats.firstError[k] ??= res.body.toString('utf8').slice(0, 300);
          delay = 1_000;
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        const m = err instanceof Error ? err.message : String(err);
        const k = m.replace(/\d+/g, 'N').slice(0, 100);
        stats.errors[k] = (stats.errors[k] ?? 0) + 1;
        stats.firstError[k] ??= m;
        delay = 1_000;
      } finally {
        waiting--;
      }
      if (delay > 0) await sleep(delay, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  };
  const loops = o.tokens.map((_, i) => poller(i));
  return {
    stats,
    waiting: () => waiting,
    async stop() {
      abort.abort();
      await Promise.all(loops);
    },
  };
}

/**
 * Revisions a poller missed: every revision published after it first received one (the first it
 * got and later) that is absent from what it received. `published` in publication order.
 */
export function missedRevisions(received: readonly string[], published: readonly string[]): string[] {
  const first = published.indexOf(received[0] ?? '');
  if (first < 0) return [...published];
  const got = new Set(received);
  return published.slice(first).filter((r) => !got.has(r));
}
