// Turns a 'hold' verdict into an ApprovalRequest and follows it to its end, for both front ends.
//
// - open(): create the request, or reuse the one an identical earlier call created (its name is
//   derived from the call). A request is reused until it is consumed or expires; then the next
//   identical call asks again.
// - hold(): wait for the humans, watch-driven (one informer over every request this authorizer
//   manages), and release the call the moment the operator marks the request Approved.
// - consume: the release itself is a status UPDATE carrying the resourceVersion read, setting
//   phase Consumed. Of two replicas racing on one approval the API server lets exactly one
//   write through; the other gets 409, re-reads, finds it Consumed and must not execute.
// Nothing here ever calls an upstream: the front end does, and only on 'released'.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { ResourceInformer } from '../../../pkg/kube/informer.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { createApprovalMetrics, type ApprovalMetrics } from './metrics.ts';
import type { Outcome } from './outcome.ts';
import { approvalSelector, argumentsDigest, buildApprovalRequest } from './request.ts';

export const approvalResource = { group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests' } as const;
export const defaultFieldManager = 'toolgate-authorizer';

export interface ApprovalCoordinatorOptions {
  client: KubeClient;
  /** This replica's name, recorded as status.consumedBy (the pod name in a cluster). */
  pod: string;
  log: Logger;
  registry?: Registry;
  fieldManager?: string;
  now?: () => Date;
  /** Called with what became of every held call (the audit trail hangs here). */
  onOutcome?: (e: { mode: ApprovalMode; outcome: Outcome; call: ToolCall; verdict: Verdict }) => void;
}

export type ApprovalMode = 'hold' | 'retry';

const maxConsumeAttempts = 5;
const maxTimerMs = 2 ** 31 - 1;
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class ApprovalCoordinator {
  readonly #o: ApprovalCoordinatorOptions;
  readonly #fm: string;
  readonly #now: () => Date;
  readonly #informer: ResourceInformer<ApprovalRequest>;
  readonly #waiters = new Map<string, Set<(obj: ApprovalRequest, deleted: boolean) => void>>();
  readonly metrics: ApprovalMetrics | undefined;
  #started = false;

  constructor(o: ApprovalCoordinatorOptions) {
    this.#o = o;
    this.#fm = o.fieldManager ?? defaultFieldManager;
    this.#now = o.now ?? (() => new Date());
    this.metrics = o.registry ? createApprovalMetrics(o.registry) : undefined;
    this.#informer = new ResourceInformer<ApprovalRequest>({ resource: approvalResource, client: o.client, labelSelector: approvalSelector, log: o.log });
    this.#informer.on((type, obj) => {
      const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
      for (const notify of this.#waiters.get(key) ?? []) notify(obj, type === 'delete');
    });
  }

  /** Starts the watch and resolves once the first list is in: held calls rely on it. */
  async start(): Promise<void> {
    await this.#informer.start();
    await this.#informer.synced();
    this.#started = true;
  }

  /** True once the watch has listed: held calls can be released. */
  get watching(): boolean {
    return this.#started;
  }

  async stop(): Promise<void> {
    this.#started = false;
    await this.#informer.stop();
  }

  /** The request for this call: created, or the live one an identical call created before. */
  async open(call: ToolCall, verdict: Verdict): Promise<ApprovalRequest> {
    const desired = buildApprovalRequest(call, verdict, this.#now());
    const ref = this.#ref(desired);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const created = await this.#o.client.create<ApprovalRequest>({ ...ref, name: undefined }, desired, this.#fm);
        this.metrics?.created.inc({ policy: `${ref.namespace}/${desired.spec.policyRef.name}` });
        this.#o.log.info({ approval: `${ref.namespace}/${ref.name}`, server: call.server, tool: call.tool, rule: desired.spec.rule, agent: desired.spec.requester.agent, expiresAt: desired.spec.expiresAt }, 'approval requested');
        return created;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      let current: ApprovalRequest;
      try {
        current = await this.#o.client.get<ApprovalRequest>(ref);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      if (!this.#spent(current)) return current;
      await this.#replace(current);
    }
    throw new Error(`approval request ${ref.namespace}/${ref.name} kept changing while it was being created; retry the call`);
  }

  /** Retry mode: never waits. Released only when the request is already approved. */
  async check(call: ToolCall, verdict: Verdict): Promise<Outcome> {
    const outcome = await this.#guard(async () => this.#settle(await this.open(call, verdict), argumentsDigest(call.arguments)));
    this.metrics?.outcome(outcome.kind, 'retry');
    this.#o.onOutcome?.({ mode: 'retry', outcome, call, verdict });
    return outcome;
  }

  /** Hold mode: waits (watch-driven) until the request is decided, expires, or `signal` aborts. */
  async hold(call: ToolCall, verdict: Verdict, signal: AbortSignal, onPending?: (r: ApprovalRequest) => void): Promise<Outcome> {
    if (!this.#started) return { kind: 'failed', message: 'the authorizer is not watching approval requests yet' };
    this.metrics?.waiting.inc();
    try {
      const outcome = await this.#guard(async () => {
        const digest = argumentsDigest(call.arguments);
        let r = await this.open(call, verdict);
        let notified = false;
        for (;;) {
          // A caller that went away must not spend the approval.
          signal.throwIfAborted();
          const o = await this.#settle(r, digest);
          if (o.kind !== 'pending') return o;
          if (!notified) onPending?.(r);
          notified = true;
          const next = await this.#next(r, signal);
          if (next === undefined) {
            return r.status?.phase === 'Consumed'
              ? { kind: 'alreadyReleased', request: r, ...(r.status.consumedBy ? { consumedBy: r.status.consumedBy } : {}) } as const
              : { kind: 'failed', message: `approval request ${r.metadata.namespace}/${r.metadata.name} was deleted before it was decided; retry the call to ask again`, request: r } as const;
          }
          r = next;
        }
      });
      this.metrics?.outcome(outcome.kind, 'hold');
      this.#o.onOutcome?.({ mode: 'hold', outcome, call, verdict });
      return outcome;
    } finally {
      this.metrics?.waiting.dec();
    }
  }

  async #guard(run: () => Promise<Outcome>): Promise<Outcome> {
    try {
      return await run();
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      this.#o.log.warn({ err: errorText(err) }, 'approval request could not be handled; refusing the call');
      return { kind: 'failed', message: errorText(err) };
    }
  }

  /** What a request in its current state means for the call; consumes it when approved. */
  async #settle(r: ApprovalRequest, digest: string): Promise<Outcome> {
    const ref = this.#ref(r);
    const seenApproved = performance.now();
    for (let attempt = 0; attempt < maxConsumeAttempts; attempt++) {
      const phase = r.status?.phase ?? 'Pending';
      // consumedBy too: a stale writer putting the phase back must not release the call twice.
      if (phase === 'Consumed' || r.status?.consumedBy) return { kind: 'alreadyReleased', request: r, ...(r.status?.consumedBy ? { consumedBy: r.status.consumedBy } : {}) };
      if (phase === 'Denied') return { kind: 'denied', request: r };
      if (phase === 'Expired' || Date.parse(r.spec.expiresAt) <= this.#now().getTime()) return { kind: 'expired', request: r };
      if (phase !== 'Approved') return { kind: 'pending', request: r };
      // The name covers the digest, so this only fails if someone edited a request by hand.
      if (r.spec.argumentsDigest !== digest) return { kind: 'failed', message: `approval request ${ref.namespace}/${ref.name} approved different arguments (${r.spec.argumentsDigest}); refusing`, request: r };
      const consumed: ApprovalRequest = { ...r, status: { ...r.status, phase: 'Consumed', consumedBy: this.#o.pod, consumedAt: this.#now().toISOString() } };
      try {
        const updated = await this.#o.client.replace<ApprovalRequest>({ ...ref, subresource: 'status' }, consumed, this.#fm);
        this.metrics?.releaseSeconds.observe((performance.now() - seenApproved) / 1000);
        this.#o.log.info({ approval: `${ref.namespace}/${ref.name}`, approvedBy: (r.status?.decisions ?? []).filter((d) => d.decision === 'approve').map((d) => d.user), pod: this.#o.pod }, 'approval consumed; releasing the call');
        return { kind: 'released', request: updated };
      } catch (err) {
        if (isNotFound(err)) return { kind: 'failed', message: `approval request ${ref.namespace}/${ref.name} was deleted`, request: r };
        if (!isConflict(err)) throw err;
        this.metrics?.conflicts.inc();
        r = await this.#o.client.get<ApprovalRequest>(ref);
      }
    }
    return { kind: 'failed', message: `approval request ${ref.namespace}/${ref.name} kept changing while being consumed`, request: r };
  }

  /** The next state of `r` from the watch; resolves with `r` itself at its expiry, undefined if deleted. */
  #next(r: ApprovalRequest, signal: AbortSignal): Promise<ApprovalRequest | undefined> {
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    const phase = r.status?.phase ?? 'Pending';
    return new Promise((resolve, reject) => {
      const waiters = this.#waiters.get(key) ?? new Set();
      this.#waiters.set(key, waiters);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        waiters.delete(notify);
        if (waiters.size === 0) this.#waiters.delete(key);
      };
      const notify = (obj: ApprovalRequest, deleted: boolean) => {
        // Events of an earlier request of the same name (replaced when it was spent) are not ours.
        if (obj.metadata.uid !== r.metadata.uid) return;
        if (!deleted && (obj.status?.phase ?? 'Pending') === phase) return;
        done();
        resolve(deleted ? undefined : obj);
      };
      const onAbort = () => {
        done();
        reject(signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the caller went away'), { name: 'AbortError' }));
      };
      // Timeout-to-abort does not depend on the operator being up: the call ends at expiresAt.
      const timer = setTimeout(() => { done(); resolve(r); }, Math.min(maxTimerMs, Math.max(0, Date.parse(r.spec.expiresAt) - this.#now().getTime() + 50)));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.add(notify);
      // The watch may have delivered a newer state before we registered.
      const cached = this.#informer.get(key);
      if (cached && cached.metadata.resourceVersion !== r.metadata.resourceVersion) notify(cached, false);
    });
  }

  /** A consumed request, or one past its expiry, no longer answers for new calls. */
  #spent(r: ApprovalRequest): boolean {
    return r.status?.phase === 'Consumed' || Date.parse(r.spec.expiresAt) <= this.#now().getTime();
  }

  async #replace(old: ApprovalRequest): Promise<void> {
    const ref = this.#ref(old);
    // The log line is the record of the old request once it is gone.
    this.#o.log.info({ approval: `${ref.namespace}/${ref.name}`, phase: old.status?.phase, decisions: old.status?.decisions, consumedBy: old.status?.consumedBy, expiresAt: old.spec.expiresAt }, 'replacing a spent approval request for a new identical call');
    try {
      await this.#o.client.request('DELETE', `/apis/${approvalResource.group}/${approvalResource.version}/namespaces/${encodeURIComponent(ref.namespace ?? '')}/${approvalResource.plural}/${encodeURIComponent(ref.name ?? '')}`, {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: old.metadata.uid, resourceVersion: old.metadata.resourceVersion } },
      });
    } catch (err) {
      // Someone else replaced or changed it first: the next round reads it again.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  #ref(r: ApprovalRequest): ResourceRef {
    return { ...approvalResource, namespace: r.metadata.namespace ?? '', name: r.metadata.name ?? '' };
  }
}
