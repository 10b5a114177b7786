// Turns a 'hold' verdict into an ApprovalRequest and follows it to its end, for both front ends.
//
// - open(): create the request, or reuse the one an identical earlier call created (its name is
//   derived from the call and what the policy requires of it). A request is reused until it is
//   consumed, expires or is superseded; then the next identical call asks again. A request found
//   under the name is honoured only if its spec is exactly what this authorizer would create:
//   one written by anybody else (weaker approvers, a smaller quorum, another requester) is
//   refused and reported, never released.
// - hold(): wait for the humans, watch-driven (one informer over every request), and release the
//   call the moment the operator marks the request Approved — if the decisions back that phase,
//   and if the policy in force still requires exactly this approval. When a new bundle revision
//   changes what the call requires, the request is marked Superseded (saying what changed) and
//   the call is decided afresh: a new request for the new approvers, or the new verdict.
// - consume: the release itself is a status UPDATE carrying the resourceVersion read, setting
//   phase Consumed. Of two replicas racing on one approval the API server lets exactly one
//   write through; the other gets 409, re-reads, finds it Consumed and must not execute.
// Nothing here ever calls an upstream: the front end does, and only on 'released'.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApprovalRequest, ApprovalRequestSpec, Phase } from '../../../api/v1alpha1/index.ts';
import { evaluateApproval, supersededCondition } from '../../../pkg/approvals/phase.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { getCondition, setCondition } from '../../../pkg/kube/conditions.ts';
import { ResourceInformer } from '../../../pkg/kube/informer.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { storeArguments } from './arguments-store.ts';
import { createApprovalMetrics, type ApprovalMetrics } from './metrics.ts';
import type { Outcome } from './outcome.ts';
import type { ApprovalPolicy } from './policy.ts';
import { buildApprovalRequest, sameCall, specMismatches } from './request.ts';

export const approvalResource = { group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests' } as const;
export const defaultFieldManager = 'toolgate-authorizer';

export interface ApprovalCoordinatorOptions {
  client: KubeClient;
  /** This replica's name, recorded as status.consumedBy (the pod name in a cluster). */
  pod: string;
  log: Logger;
  /** The policies in force: to decide a held call afresh after a bundle change, and to name the requester as Kubernetes does. */
  policy: ApprovalPolicy;
  registry?: Registry;
  fieldManager?: string;
  now?: () => Date;
  /** Called with what became of every held call (the audit trail hangs here). */
  onOutcome?: (e: { mode: ApprovalMode; outcome: Outcome; call: ToolCall; verdict: Verdict }) => void;
}

export type ApprovalMode = 'hold' | 'retry';

/** A request under this call's name that is not what toolgate would have created for it. */
export class UntrustedApprovalError extends Error {
  override name = 'UntrustedApprovalError';
  readonly request: ApprovalRequest;
  constructor(message: string, request: ApprovalRequest) {
    super(message);
    this.request = request;
  }
}

/** The verdict a held call is currently waited on under; replaced when the call is decided afresh. */
interface Holding {
  verdict: Verdict;
}

const maxConsumeAttempts = 5;
// A call whose requirement keeps changing (replicas on different revisions) stops waiting after this many rounds.
const maxSupersedeRounds = 5;
const maxTimerMs = 2 ** 31 - 1;
const openPhases: ReadonlySet<Phase> = new Set(['Pending', 'Approved']);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class ApprovalCoordinator {
  readonly #o: ApprovalCoordinatorOptions;
  readonly #fm: string;
  readonly #now: () => Date;
  readonly #informer: ResourceInformer<ApprovalRequest>;
  readonly #waiters = new Map<string, Set<(obj: ApprovalRequest, deleted: boolean) => void>>();
  readonly #wakers = new Set<() => void>();
  /** uids whose ApprovalArguments (and its Role and RoleBinding) are known to exist. */
  readonly #argumentsStored = new Set<string>();
  readonly metrics: ApprovalMetrics | undefined;
  #started = false;

  constructor(o: ApprovalCoordinatorOptions) {
    this.#o = o;
    this.#fm = o.fieldManager ?? defaultFieldManager;
    this.#now = o.now ?? (() => new Date());
    this.metrics = o.registry ? createApprovalMetrics(o.registry) : undefined;
    // No label selector: labels are anybody's to edit, and taking one off must not hide a request from its waiter.
    this.#informer = new ResourceInformer<ApprovalRequest>({ resource: approvalResource, client: o.client, log: o.log });
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

  /** A new bundle revision was loaded: every held call checks whether it still requires what it waits for. */
  policyChanged(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** The request for this call: created, or the live one an identical call created before. */
  async open(call: ToolCall, verdict: Verdict): Promise<ApprovalRequest> {
    const desired = this.#desired(call, verdict);
    const ref = this.#ref(desired);
    for (let attempt = 0; attempt < 3; attempt++) {
      let r: ApprovalRequest | undefined;
      try {
        r = await this.#o.client.create<ApprovalRequest>({ ...ref, name: undefined }, desired, this.#fm);
        this.metrics?.created.inc({ policy: `${ref.namespace}/${desired.spec.policyRef.name}` });
        this.#o.log.info({ approval: `${ref.namespace}/${ref.name}`, server: call.server, tool: call.tool, rule: desired.spec.rule, agent: desired.spec.requester.agent, expiresAt: desired.spec.expiresAt }, 'approval requested');
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      if (!r) {
        let current: ApprovalRequest;
        try {
          current = await this.#o.client.get<ApprovalRequest>(ref);
        } catch (err) {
          if (isNotFound(err)) continue;
          throw err;
        }
        const stale = this.#verify(current, desired, verdict);
        if (stale || this.#spent(current)) {
          await this.#replace((stale ? await this.#supersede(current, verdict, stale) : undefined) ?? current);
          continue;
        }
        r = current;
      }
      await this.#storeArguments(r, call);
      await this.#supersedeSiblings(r, verdict);
      return r;
    }
    throw new Error(`approval request ${ref.namespace}/${ref.name} kept changing while it was being created; retry the call`);
  }

  /** Retry mode: never waits. Released only when the request is already approved. */
  async check(call: ToolCall, verdict: Verdict): Promise<Outcome> {
    const holding: Holding = { verdict };
    const outcome = await this.#guard(async () => this.#settle(await this.open(call, verdict), call, holding));
    this.metrics?.outcome(outcome.kind, 'retry');
    this.#o.onOutcome?.({ mode: 'retry', outcome, call, verdict: holding.verdict });
    return outcome;
  }

  /** Hold mode: waits (watch-driven) until the request is decided, expires, or `signal` aborts. */
  async hold(call: ToolCall, verdict: Verdict, signal: AbortSignal, onPending?: (r: ApprovalRequest) => void): Promise<Outcome> {
    if (!this.#started) return { kind: 'failed', message: 'the authorizer is not watching approval requests yet' };
    this.metrics?.waiting.inc();
    try {
      const holding: Holding = { verdict };
      const outcome = await this.#guard(async () => {
        let r = await this.open(call, verdict);
        let notified = false;
        let rounds = 0;
        for (;;) {
          // A caller that went away must not spend the approval.
          signal.throwIfAborted();
          const o = await this.#settle(r, call, holding);
          // Decided afresh and still held: wait for the approvers the policy in force names.
          if (o.kind === 'superseded' && o.verdict?.effect === 'hold' && ++rounds <= maxSupersedeRounds) {
            r = await this.open(call, o.verdict);
            continue;
          }
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
      this.#o.onOutcome?.({ mode: 'hold', outcome, call, verdict: holding.verdict });
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
      if (err instanceof UntrustedApprovalError) {
        this.metrics?.untrusted.inc();
        this.#o.log.warn({ approval: `${err.request.metadata.namespace}/${err.request.metadata.name}`, problem: err.message }, 'refusing a held call: its approval request was not created by toolgate for this call');
        return { kind: 'untrusted', message: err.message, request: err.request };
      }
      this.#o.log.warn({ err: errorText(err) }, 'approval request could not be handled; refusing the call');
      return { kind: 'failed', message: errorText(err) };
    }
  }

  #desired(call: ToolCall, verdict: Verdict): ApprovalRequest {
    return buildApprovalRequest(call, verdict, this.#now(), this.#o.policy.kubernetesUsernames(call));
  }

  /**
   * Throws UntrustedApprovalError unless `current` is exactly the request `desired` describes.
   * Returns a reason when it is ours but from an earlier revision whose timeout the policy in
   * force no longer allows (the only field a policy change can alter without changing the name).
   */
  #verify(current: ApprovalRequest, desired: ApprovalRequest, verdict: Verdict): string | undefined {
    const problems = specMismatches(current.spec, desired.spec);
    if (problems.length === 0) return undefined;
    const onlyExpiry = problems.every((p) => p.startsWith('spec.expiresAt '));
    if (onlyExpiry && current.spec.policyRef.revision !== verdict.revision) return problems.join('; ');
    throw new UntrustedApprovalError(`approval request ${current.metadata.namespace}/${current.metadata.name} is not the one toolgate creates for this call: ${problems.join('; ')}`, current);
  }

  /** The verdict in force for the call: `verdict` while its revision is, else the call decided afresh. */
  #inForce(call: ToolCall, verdict: Verdict): Verdict {
    return this.#o.policy.revisionFor(call) === verdict.revision ? verdict : this.#o.policy.decide(call);
  }

  /** What a request in its current state means for the call; consumes it when approved. */
  async #settle(r: ApprovalRequest, call: ToolCall, holding: Holding): Promise<Outcome> {
    const ref = this.#ref(r);
    const name = `${ref.namespace}/${ref.name}`;
    const seenApproved = performance.now();
    for (let attempt = 0; attempt < maxConsumeAttempts; attempt++) {
      const phase = r.status?.phase ?? 'Pending';
      // consumedBy too: a stale writer putting the phase back must not release the call twice.
      if (phase === 'Consumed' || r.status?.consumedBy) return { kind: 'alreadyReleased', request: r, ...(r.status?.consumedBy ? { consumedBy: r.status.consumedBy } : {}) };
      if (phase === 'Superseded') {
        return { kind: 'superseded', request: r, message: getCondition(r.status?.conditions, supersededCondition)?.message ?? 'the policy changed what this call requires' };
      }
      const now = this.#now().getTime();
      const backing = evaluateApproval(r, now);
      if (phase === 'Denied' || backing.phase === 'Denied') return { kind: 'denied', request: r };
      if (phase === 'Expired' || Date.parse(r.spec.expiresAt) <= now) return { kind: 'expired', request: r };

      const fresh = this.#inForce(call, holding.verdict);
      holding.verdict = fresh;
      const desired = fresh.effect === 'hold' ? this.#desired(call, fresh) : undefined;
      if (!desired || desired.metadata.name !== r.metadata.name) {
        const message = this.#changeMessage(r, fresh, desired?.spec);
        return { kind: 'superseded', request: (await this.#supersede(r, fresh, message)) ?? r, message, verdict: fresh };
      }
      if (this.#verify(r, desired, fresh)) return { kind: 'superseded', request: r, message: 'the policy in force allows a shorter wait than this request', verdict: fresh };

      if (phase !== 'Approved') return { kind: 'pending', request: r };
      // Believe Approved only as far as the decisions back it, against the quorum of the verified spec.
      if (backing.phase !== 'Approved' || backing.approvedBy.length < desired.spec.quorum) {
        this.metrics?.unbacked.inc();
        this.#o.log.warn({ approval: name, approvedBy: backing.approvedBy, quorum: desired.spec.quorum, ignored: backing.ignored }, 'approval request is marked Approved but its decisions do not back it; not releasing the call');
        return { kind: 'pending', request: r };
      }
      const consumed: ApprovalRequest = { ...r, status: { ...r.status, phase: 'Consumed', consumedBy: this.#o.pod, consumedAt: this.#now().toISOString() } };
      try {
        const updated = await this.#o.client.replace<ApprovalRequest>({ ...ref, subresource: 'status' }, consumed, this.#fm);
        this.metrics?.releaseSeconds.observe((performance.now() - seenApproved) / 1000);
        this.#o.log.info({ approval: name, approvedBy: backing.approvedBy, pod: this.#o.pod }, 'approval consumed; releasing the call');
        return { kind: 'released', request: updated };
      } catch (err) {
        if (isNotFound(err)) return { kind: 'failed', message: `approval request ${name} was deleted`, request: r };
        if (!isConflict(err)) throw err;
        this.metrics?.conflicts.inc();
        r = await this.#o.client.get<ApprovalRequest>(ref);
      }
    }
    return { kind: 'failed', message: `approval request ${name} kept changing while being consumed`, request: r };
  }

  /** What the policy in force requires of the call (`freshSpec`: the request it would create now), next to what `r` asked for. */
  #changeMessage(r: ApprovalRequest, fresh: Verdict, freshSpec?: ApprovalRequestSpec): string {
    const d = fresh.decision;
    const policy = d.policy?.namespace && d.policy.name ? `${d.policy.namespace}/${d.policy.name}` : `${r.spec.policyRef.namespace}/${r.spec.policyRef.name}`;
    const asks = (quorum: number, groups: readonly string[], rule: string) => `${quorum} approval${quorum === 1 ? '' : 's'} from ${groups.join(', ')} (rule "${rule}")`;
    const requires = fresh.effect === 'hold'
      ? `requires ${asks(Math.max(1, d.quorum || 1), d.approvers, d.rule)}`
      : fresh.effect === 'deny' ? `denies the call (rule "${d.rule}")` : `allows the call without approval (rule "${d.rule}")`;
    const fields = freshSpec ? specMismatches(r.spec, freshSpec).map((p) => p.split(' ')[0]) : [];
    return `policy ${policy} revision ${fresh.revision || '(none loaded)'} ${requires}; this request asked for ${asks(r.spec.quorum, r.spec.approvers, r.spec.rule)} `
      + `under revision ${r.spec.policyRef.revision ?? '(unknown)'}${fields.length ? ` (changed: ${fields.join(', ')})` : ''}; the call is decided afresh`;
  }

  /**
   * Marks an open request Superseded with a condition saying what changed. Returns the written
   * object, or undefined when it was no longer open (consumed, decided, deleted) by then.
   */
  async #supersede(r: ApprovalRequest, fresh: Verdict, message = this.#changeMessage(r, fresh)): Promise<ApprovalRequest | undefined> {
    const ref = this.#ref(r);
    let current = r;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!openPhases.has(current.status?.phase ?? 'Pending') || current.status?.consumedBy) return undefined;
      const conditions = setCondition(current.status?.conditions, {
        type: supersededCondition, status: 'True', reason: 'PolicyChanged', message: message.slice(0, 4096), observedGeneration: current.metadata.generation ?? 0,
      }, this.#now());
      try {
        const written = await this.#o.client.replace<ApprovalRequest>({ ...ref, subresource: 'status' }, { ...current, status: { ...current.status, phase: 'Superseded', conditions } }, this.#fm);
        this.metrics?.superseded.inc();
        this.#o.log.info({ approval: `${ref.namespace}/${ref.name}`, revision: fresh.revision, rule: fresh.decision.rule, message }, 'approval request superseded by a policy change');
        return written;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        if (!isConflict(err)) throw err;
        current = await this.#o.client.get<ApprovalRequest>(ref);
      }
    }
    return undefined;
  }

  /** Open requests for the same call that an earlier revision required differently. */
  async #supersedeSiblings(r: ApprovalRequest, verdict: Verdict): Promise<void> {
    if (!this.#started) return;
    for (const other of this.#informer.list()) {
      if (other.metadata.namespace !== r.metadata.namespace || other.metadata.name === r.metadata.name) continue;
      if (!sameCall(other.spec, r.spec) || other.spec.policyRef.revision === verdict.revision) continue;
      if (!openPhases.has(other.status?.phase ?? 'Pending') || other.status?.consumedBy || this.#spent(other)) continue;
      try {
        await this.#supersede(other, verdict, `${this.#changeMessage(other, verdict, r.spec)} in ${r.metadata.name}`);
      } catch (err) {
        this.#o.log.warn({ approval: `${other.metadata.namespace}/${other.metadata.name}`, err: errorText(err) }, 'could not mark an outdated approval request Superseded');
      }
    }
  }

  /** Best effort: approvers then see the full arguments; without them they see the redacted copy. */
  async #storeArguments(r: ApprovalRequest, call: ToolCall): Promise<void> {
    const uid = r.metadata.uid ?? '';
    if (!uid || this.#argumentsStored.has(uid)) return;
    const approval = `${r.metadata.namespace}/${r.metadata.name}`;
    try {
      const result = await storeArguments(this.#o.client, r, call.arguments, this.#fm);
      if (result.stored) {
        this.#argumentsStored.add(uid);
        this.metrics?.argumentsStored.inc({ outcome: 'stored' });
      } else {
        this.metrics?.argumentsStored.inc({ outcome: 'skipped' });
        this.#o.log.warn({ approval, reason: result.reason }, 'full arguments not stored for approvers; they see the redacted copy only');
      }
    } catch (err) {
      this.metrics?.argumentsStored.inc({ outcome: 'failed' });
      this.#o.log.warn({ approval, err: errorText(err) }, 'could not store the full arguments for approvers; they see the redacted copy only');
    }
  }

  /** The next state of `r` from the watch; resolves with `r` itself at its expiry or on a policy change, undefined if deleted. */
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
        this.#wakers.delete(wake);
        if (waiters.size === 0) this.#waiters.delete(key);
      };
      const notify = (obj: ApprovalRequest, deleted: boolean) => {
        // Events of an earlier request of the same name (replaced when it was spent) are not ours.
        if (obj.metadata.uid !== r.metadata.uid) return;
        if (!deleted && (obj.status?.phase ?? 'Pending') === phase) return;
        done();
        resolve(deleted ? undefined : obj);
      };
      const wake = () => { done(); resolve(this.#informer.get(key) ?? r); };
      const onAbort = () => {
        done();
        reject(signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the caller went away'), { name: 'AbortError' }));
      };
      // Timeout-to-abort does not depend on the operator being up: the call ends at expiresAt.
      const timer = setTimeout(() => { done(); resolve(r); }, Math.min(maxTimerMs, Math.max(0, Date.parse(r.spec.expiresAt) - this.#now().getTime() + 50)));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.add(notify);
      this.#wakers.add(wake);
      // The watch may have delivered a newer state before we registered.
      const cached = this.#informer.get(key);
      if (cached && cached.metadata.resourceVersion !== r.metadata.resourceVersion) notify(cached, false);
    });
  }

  /** A consumed, superseded or expired request no longer answers for new calls. */
  #spent(r: ApprovalRequest): boolean {
    const phase = r.status?.phase;
    return phase === 'Consumed' || phase === 'Superseded' || !!r.status?.consumedBy || Date.parse(r.spec.expiresAt) <= this.#now().getTime();
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
