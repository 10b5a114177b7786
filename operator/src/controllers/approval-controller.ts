// Reconciles ApprovalRequests (leader only; every replica keeps the watch cache warm): derive
// the phase from the decisions and the clock, write it with server-side apply only when it
// changed, tell humans (Events, optional chat webhook), wake up exactly at expiresAt so
// timeout-to-abort needs no polling, and delete settled requests after the retention.
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram } from 'prom-client';
import { apiVersion, phases, type ApprovalRequest, type Phase } from '../../../api/v1alpha1/index.ts';
import { isConflict, isNotFound, resourcePath, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { getCondition, jsonEqual } from '../../../pkg/kube/conditions.ts';
import type { EventRecorder } from '../../../pkg/kube/events.ts';
import { objectKey, type ResourceInformer } from '../../../pkg/kube/informer.ts';
import { WorkQueue } from '../../../pkg/kube/workqueue.ts';
import { queueResultReporter } from './queue-results.ts';
import type { OperatorMetrics } from '../../../pkg/observability/metrics.ts';
import { decidedMessage, requestedMessage } from './approval-message.ts';
import type { WebhookNotifier } from './approval-notifier.ts';
import { logLedgerError, type DueNotification, type NotificationLedger } from './approval-notification-ledger.ts';
import { decidedCondition, desiredApprovalStatus, isTerminal, operatorStatusCurrent, settledAt, type ApprovalOutcome } from '../../../pkg/approvals/phase.ts';

export const fieldManager = 'toolgate-operator';
const controller = 'approvalrequest';
export const defaultRetentionMs = 24 * 3_600_000;
// setTimeout overflows past ~24.8 days; long waits are re-evaluated in steps instead.
const maxWaitMs = 3_600_000;
// Timers may fire a little early relative to Date.now(); a small margin avoids a wasted pass.
const wakeMarginMs = 5;

export interface ApprovalControllerOptions {
  client: KubeClient;
  approvals: ResourceInformer<ApprovalRequest>;
  events: EventRecorder;
  log: Logger;
  metrics: OperatorMetrics;
  /** Only the leader writes; followers keep caches warm. */
  canWrite: () => boolean;
  /** How long a settled request is kept before it is deleted (default 24 h). */
  retentionMs?: number;
  /** Reconcile only these namespaces (default: all). */
  namespaces?: readonly string[];
  notifier?: WebhookNotifier;
  /** Chat notifications recorded on the request (exactly-once up to a crash mid-send); replaces notifier's in-memory dedupe. */
  ledger?: NotificationLedger;
}

export class ApprovalController {
  readonly queue: WorkQueue;
  private readonly o: ApprovalControllerOptions;
  private readonly log: Logger;
  private readonly retentionMs: number;
  private readonly decisionSeconds: Histogram<'phase'>;
  private readonly deleted: Counter;

  constructor(o: ApprovalControllerOptions) {
    this.o = o;
    this.log = o.log.child({ controller });
    this.retentionMs = o.retentionMs ?? defaultRetentionMs;
    const registry = o.metrics.registry;
    const approvals = o.approvals;
    new Gauge({
      name: 'toolgate_approval_requests', help: 'ApprovalRequests by phase (reported by the leader only, so sums across replicas stay right).',
      labelNames: ['phase'] as const, registers: [registry],
      collect() {
        this.reset();
        if (!o.canWrite()) return;
        const counts = new Map<Phase, number>(phases.map((p) => [p, 0]));
        for (const ar of approvals.list()) counts.set(ar.status?.phase ?? 'Pending', (counts.get(ar.status?.phase ?? 'Pending') ?? 0) + 1);
        for (const [phase, n] of counts) this.set({ phase }, n);
      },
    });
    this.decisionSeconds = new Histogram({
      name: 'toolgate_approval_decision_seconds', help: 'Time from an ApprovalRequest\'s creation to its decision, by outcome.',
      labelNames: ['phase'] as const, buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14_400, 86_400], registers: [registry],
    });
    this.deleted = new Counter({ name: 'toolgate_approval_requests_deleted_total', help: 'Settled ApprovalRequests deleted after the retention.', registers: [registry] });
    this.queue = new WorkQueue((key) => this.reconcile(key), {
      concurrency: 4,
      onResult: queueResultReporter(controller, o.metrics, this.log, () => this.queue.length),
    });
    o.approvals.on((_type, ar) => { if (this.watches(ar)) this.queue.add(objectKey(ar)); });
  }

  /** Queue every cached request (on becoming leader, every state must be re-derived). */
  requeueAll(): void {
    for (const ar of this.o.approvals.list()) if (this.watches(ar)) this.queue.add(objectKey(ar));
  }

  stop(): void {
    this.queue.stop();
    this.o.notifier?.stop();
  }

  private watches(ar: ApprovalRequest): boolean {
    return !this.o.namespaces || this.o.namespaces.includes(ar.metadata?.namespace ?? '');
  }

  async reconcile(key: string): Promise<void> {
    const ar = this.o.approvals.get(key);
    if (!ar || !this.o.canWrite()) {
      this.queue.forget(key);
      return;
    }
    if (ar.metadata.deletionTimestamp) return;
    const now = Date.now();
    const { status, outcome } = desiredApprovalStatus(ar, now);
    const { namespace, name } = ar.metadata;
    const ref: ResourceRef = { group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace, name };

    if (isTerminal(outcome.phase)) {
      const since = settledAt({ ...ar, status: { ...ar.status, ...status, phase: outcome.phase } }) ?? now;
      if (now - since >= this.retentionMs && isTerminal(ar.status?.phase)) {
        await this.collect(ar, ref, outcome.phase);
        return;
      }
      this.wakeAt(key, since + this.retentionMs, now);
    } else {
      this.wakeAt(key, outcome.expiresAtMs, now);
    }

    if (operatorStatusCurrent(ar.status, status, jsonEqual)) {
      this.o.metrics.statusWrites.inc({ kind: 'ApprovalRequest', outcome: 'skipped' });
      // Also after a restart or leader change: whatever is due and not recorded as sent goes out.
      this.notifyDue(key, ar, outcome);
      return;
    }
    try {
      // resourceVersion makes the apply conditional: a decision or a consumption that landed
      // after our read is never overwritten by a phase derived from the older object.
      await this.o.client.apply(
        { ...ref, subresource: 'status' },
        { apiVersion, kind: 'ApprovalRequest', metadata: { name, namespace, resourceVersion: ar.metadata.resourceVersion }, status },
        fieldManager,
      );
    } catch (err) {
      if (isNotFound(err)) return;
      this.o.metrics.statusWrites.inc({ kind: 'ApprovalRequest', outcome: isConflict(err) ? 'conflict' : 'failed' });
      // A conflict means a newer object is on its way through the watch; retry reads it then.
      throw err;
    }
    this.o.metrics.statusWrites.inc({ kind: 'ApprovalRequest', outcome: 'written' });
    const message = status.conditions.find((c) => c.type === decidedCondition)?.message ?? outcome.phase;
    await this.announce(ar, outcome, message, now);
    this.notifyDue(key, { ...ar, status: { ...ar.status, ...status, ...(status.phase ? { phase: status.phase } : {}) } }, outcome);
  }

  /** The chat message the request's state calls for: the request while open, else its outcome. */
  private notifyDue(key: string, ar: ApprovalRequest, outcome: ApprovalOutcome): void {
    const ledger = this.o.ledger;
    const notifier = this.o.notifier;
    if (!ledger || !notifier) return;
    let due: DueNotification;
    if (outcome.phase === 'Pending') {
      due = { event: 'Requested', message: requestedMessage(ar), at: Date.parse(ar.metadata.creationTimestamp ?? '') || Date.now() };
    } else {
      const decided = getCondition(ar.status?.conditions, decidedCondition);
      const at = Date.parse((outcome.phase === 'Consumed' ? ar.status?.consumedAt : undefined) ?? decided?.lastTransitionTime ?? '') || Date.now();
      due = { event: outcome.phase, message: decidedMessage(ar, outcome), at };
    }
    notifier.track(ledger.reconcile(ar, [due]).catch((err: unknown) => {
      logLedgerError(this.log, ar, err);
      this.queue.addAfter(key, 5_000);
    }));
  }

  /** Events and chat messages for what this write changed. */
  private async announce(ar: ApprovalRequest, outcome: ApprovalOutcome, message: string, now: number): Promise<void> {
    const { namespace, name, uid } = ar.metadata;
    const regarding = { apiVersion, kind: 'ApprovalRequest', name: name ?? '', namespace, uid };
    const before = getCondition(ar.status?.conditions, decidedCondition);
    const s = ar.spec;
    const key = uid ?? `${namespace}/${name}`;
    if (!before) {
      const on = s.requester.operator ? ` on behalf of ${s.requester.operator}` : '';
      const note = `${s.requester.agent}${on} asks to call ${s.server}/${s.tool} (${s.verb}; rule ${s.rule} of ${s.policyRef.namespace}/${s.policyRef.name}); `
        + `a member of ${s.approvers.join(', ')} decides (${s.quorum} needed) before ${s.expiresAt}: kubectl mcp approve ${name} -n ${namespace} `
        + `(full arguments: kubectl mcp show ${name} -n ${namespace})`;
      this.log.info({ key: `${namespace}/${name}`, agent: s.requester.agent, server: s.server, tool: s.tool }, 'approval requested');
      await this.o.events.record(regarding, 'Normal', 'ApprovalRequested', 'Request', note);
      if (!this.o.ledger) this.o.notifier?.notify(key, 'Requested', requestedMessage(ar));
    }
    if (outcome.phase === 'Pending' || before?.reason === outcome.phase) return;
    this.log.info({ key: `${namespace}/${name}`, phase: outcome.phase }, message);
    await this.o.events.record(regarding, outcome.phase === 'Approved' || outcome.phase === 'Consumed' ? 'Normal' : 'Warning', outcome.phase, 'Decide', message);
    // Consumed and Superseded are the authorizer's doing, not a human decision.
    if (outcome.phase !== 'Consumed' && outcome.phase !== 'Superseded') {
      const created = Date.parse(ar.metadata.creationTimestamp ?? '');
      if (Number.isFinite(created)) this.decisionSeconds.observe({ phase: outcome.phase }, Math.max(0, now - created) / 1000);
    }
    if (!this.o.ledger) this.o.notifier?.notify(key, outcome.phase, decidedMessage(ar, outcome));
  }

  private wakeAt(key: string, atMs: number, now: number): void {
    if (!Number.isFinite(atMs)) return;
    this.queue.addAfter(key, Math.min(maxWaitMs, Math.max(0, atMs - now) + wakeMarginMs));
  }

  private async collect(ar: ApprovalRequest, ref: ResourceRef, phase: Phase): Promise<void> {
    try {
      // Preconditions: never delete a newer incarnation of the name, or one that changed since we looked.
      await this.o.client.request('DELETE', resourcePath(ref), {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: ar.metadata.uid, resourceVersion: ar.metadata.resourceVersion } },
      });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    this.deleted.inc();
    this.queue.forget(objectKey(ar));
    this.log.info({ key: objectKey(ar), phase, retentionMs: this.retentionMs }, 'deleted settled approval request after retention');
  }
}
