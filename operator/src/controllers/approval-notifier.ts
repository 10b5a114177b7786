// Delivers chat messages to an incoming webhook: at least once per (request, event) while the
// process lives, at most once per (request, event) thanks to an in-memory ledger. Network
// errors, 5xx and 429 (Slack's rate limit, honouring Retry-After) are retried with capped,
// jittered exponential backoff; other 4xx are permanent (a bad URL or payload will not heal).
// The URL is a credential (whoever has it can post): it is never logged.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { KubeClient } from '../../../pkg/kube/client.ts';
import { errorMessage } from '../../../pkg/observability/log.ts';
import { Backoff, type BackoffOptions } from '../../../pkg/retry/backoff.ts';
import { retryAfterMs } from '../../../pkg/retry/retry-after.ts';
import type { ChatMessage } from './approval-message.ts';

export interface NotifierOptions {
  /** Resolves the webhook URL at send time (so a rotated Secret takes effect); undefined: not configured. */
  url: () => Promise<string | undefined>;
  log: Logger;
  registry?: Registry;
  maxAttempts?: number;
  /** Delays between attempts of one delivery. Default: from 500 ms, doubling, up to 30 s, jittered. */
  backoff?: BackoffOptions;
  timeoutMs?: number;
}

class PermanentError extends Error {}

export type DeliveryResult = { kind: 'sent' } | { kind: 'failed'; message: string } | { kind: 'aborted' };

export class WebhookNotifier {
  private readonly o: Required<Omit<NotifierOptions, 'registry' | 'backoff'>>;
  private readonly backoff: Backoff;
  /** (request uid|event) → delivered or in flight; bounded, oldest dropped first. */
  private readonly ledger = new Map<string, 'pending' | 'sent'>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly counter: Counter<'event' | 'outcome'> | undefined;

  constructor(o: NotifierOptions) {
    this.o = { maxAttempts: 8, timeoutMs: 10_000, ...o };
    this.backoff = new Backoff(o.backoff);
    this.counter = o.registry
      ? new Counter({ name: 'toolgate_approval_notifications_total', help: 'Chat notifications by event and outcome (delivered, retried, failed).', labelNames: ['event', 'outcome'] as const, registers: [o.registry] })
      : undefined;
  }

  /** Queues one delivery; a (key, event) already delivered or in flight is skipped. */
  notify(key: string, event: string, message: ChatMessage): void {
    const id = `${key}|${event}`;
    if (this.ledger.has(id) || this.abort.signal.aborted) return;
    this.ledger.set(id, 'pending');
    if (this.ledger.size > 10_000) this.ledger.delete(this.ledger.keys().next().value as string);
    this.track(this.deliver(id, event, message).then(() => undefined));
  }

  /** One delivery (with its retries), for the durable ledger: resolves with how it ended. */
  send(id: string, event: string, message: ChatMessage): Promise<DeliveryResult> {
    if (this.abort.signal.aborted) return Promise.resolve({ kind: 'aborted' });
    return this.deliver(id, event, message);
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  track(work: Promise<void>): void {
    const p = work.finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves when every queued delivery has finished (delivered or given up). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  stop(): void {
    this.abort.abort();
  }

  private async deliver(id: string, event: string, message: ChatMessage): Promise<DeliveryResult> {
    const body = JSON.stringify(message);
    for (let attempt = 1; ; attempt++) {
      let retryAfter: number | undefined;
      try {
        const url = await this.o.url();
        if (!url) throw new Error('webhook URL is not configured (Secret missing or empty)');
        const res = await fetch(url, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body,
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.ledger.set(id, 'sent');
          this.counter?.inc({ event, outcome: 'delivered' });
          this.o.log.info({ notification: id, attempt }, 'approval notification delivered');
          return { kind: 'sent' };
        }
        if (res.status === 429) retryAfter = retryAfterMs(res.headers.get('retry-after'));
        else if (res.status < 500) throw new PermanentError(`webhook answered HTTP ${res.status}`);
        throw new Error(`webhook answered HTTP ${res.status}`);
      } catch (err) {
        if (this.abort.signal.aborted) return { kind: 'aborted' };
        const permanent = err instanceof PermanentError;
        if (permanent || attempt >= this.o.maxAttempts) {
          // Keep the ledger entry: retrying forever is not at-least-once, it is a leak.
          this.counter?.inc({ event, outcome: 'failed' });
          this.o.log.error({ notification: id, attempts: attempt, err: errorMessage(err) }, permanent ? 'approval notification refused; not retrying' : 'approval notification failed; giving up');
          return { kind: 'failed', message: errorMessage(err) };
        }
        // Retry-After is a floor, not a replacement: a server asking for 0 s gets the backoff.
        const delay = this.backoff.delay(attempt, retryAfter);
        this.counter?.inc({ event, outcome: 'retried' });
        this.o.log.warn({ notification: id, attempt, retryInMs: delay, err: errorMessage(err) }, 'approval notification failed; retrying');
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }
}

export interface SecretKeyRef {
  namespace: string;
  name: string;
  /** Key in the Secret's data; default `url`. */
  key?: string;
}

/** Reads the URL from a Secret, cached briefly so a burst of requests costs one GET. */
export function secretUrl(client: KubeClient, ref: SecretKeyRef, log: Logger, ttlMs = 60_000): () => Promise<string | undefined> {
  let cached: { url: string | undefined; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < ttlMs) return cached.url;
    try {
      const secret = await client.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'secrets', namespace: ref.namespace, name: ref.name });
      const raw = secret.data?.[ref.key ?? 'url'];
      const url = raw ? Buffer.from(raw, 'base64').toString('utf8').trim() || undefined : undefined;
      cached = { url, at: Date.now() };
      return url;
    } catch (err) {
      log.warn({ secret: `${ref.namespace}/${ref.name}`, err: errorMessage(err) }, 'cannot read the approval webhook Secret');
      throw new Error(`cannot read Secret ${ref.namespace}/${ref.name}`, { cause: err });
    }
  };
}
