// Reconciles McpSecurityPolicies: compile each into its bundle (every replica, so each can
// serve it), then — leader only — recompute the status from the outcome and the authorizers'
// Leases, write it with server-side apply only when it changed, and tell humans about
// transitions with Events. Profile events requeue the policies that reference the profile, so
// a policy waiting for a profile becomes Ready the moment the profile appears; Lease changes
// requeue the policies whose distribution they change.
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { apiVersion, bundleRevisionsAnnotation, type McpProfile, type McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import type { KubeClient } from '../../../pkg/kube/client.ts';
import { getCondition, jsonEqual } from '../../../pkg/kube/conditions.ts';
import type { EventRecorder } from '../../../pkg/kube/events.ts';
import { objectKey, type ResourceInformer } from '../../../pkg/kube/informer.ts';
import { WorkQueue } from '../../../pkg/kube/workqueue.ts';
import { queueResultReporter } from './queue-results.ts';
import type { OperatorMetrics } from '../../../pkg/observability/metrics.ts';
import { distributionFor, liveReports, type Lease } from './distribution.ts';
import type { BundleOutcome, PolicyBundler } from './policy-bundler.ts';
import { desiredPolicyStatus } from './policy-status.ts';

export const fieldManager = 'toolgate-operator';
const controller = 'mcpsecuritypolicy';

export interface PolicyControllerOptions {
  client: KubeClient;
  policies: ResourceInformer<McpSecurityPolicy>;
  profiles: ResourceInformer<McpProfile>;
  bundler: PolicyBundler;
  /** Authorizer Leases (label toolgate.io/authorizer=true), for the Distributed condition. */
  leases?: ResourceInformer<Lease>;
  events: EventRecorder;
  log: Logger;
  metrics: OperatorMetrics;
  /** Only the leader writes; followers keep caches warm. */
  canWrite: () => boolean;
}

export class PolicyController {
  readonly queue: WorkQueue;
  private readonly o: PolicyControllerOptions;
  private readonly log: Logger;

  constructor(o: PolicyControllerOptions) {
    this.o = o;
    this.log = o.log.child({ controller });
    this.queue = new WorkQueue((key) => this.reconcile(key), {
      onResult: queueResultReporter(controller, o.metrics, this.log, () => this.queue.length),
    });
    // Counted when scraped, from the cache: no pass over every policy per reconcile.
    const policies = o.policies;
    new Gauge({
      name: 'toolgate_policies', help: 'McpSecurityPolicies by Ready status (reported by the leader only, so sums across replicas stay right).',
      labelNames: ['ready'] as const, registers: [o.metrics.registry],
      collect() {
        this.reset();
        if (!o.canWrite()) return;
        const counts = { True: 0, False: 0, Unknown: 0 };
        for (const p of policies.list()) counts[getCondition(p.status?.conditions, 'Ready')?.status ?? 'Unknown']++;
        for (const [ready, n] of Object.entries(counts)) this.set({ ready }, n);
      },
    });
    o.policies.on((_type, policy) => this.queue.add(objectKey(policy)));
    o.profiles.on((_type, profile) => this.requeueReferencing(profile.metadata?.name ?? ''));
    // Renewals every few seconds change nothing we show: only a changed set of revisions (or a
    // Lease coming or going) requeues, and only the policies it names.
    const seen = new Map<string, string>();
    o.leases?.on((type, lease) => {
      const name = `${lease.metadata?.namespace}/${lease.metadata?.name}`;
      const now = type === 'delete' ? undefined : (lease.metadata?.annotations?.[bundleRevisionsAnnotation] ?? '{}');
      const before = seen.get(name);
      if (now === before) return;
      if (now === undefined) seen.delete(name);
      else seen.set(name, now);
      for (const raw of [before, now]) for (const key of policyKeysIn(raw)) if (this.o.policies.get(key)) this.queue.add(key);
    });
  }

  /** Queue every cached policy (on becoming leader, every state must be re-derived). */
  requeueAll(): void {
    for (const p of this.o.policies.list()) this.queue.add(objectKey(p));
  }

  private requeueReferencing(profileName: string): void {
    for (const p of this.o.policies.list()) {
      if (p.spec?.profiles?.some((r) => r.name === profileName)) this.queue.add(objectKey(p));
    }
  }

  async reconcile(key: string): Promise<void> {
    const policy = this.o.policies.get(key);
    if (!policy) {
      this.o.bundler.remove(key);
      this.queue.forget(key);
      return;
    }
    const profiles = new Map(this.o.profiles.list().map((p) => [p.metadata?.name ?? '', p] as const));
    const outcome = await this.o.bundler.sync(policy, profiles);
    // Retry with backoff (the status, written below by the leader, says what is wrong).
    if (this.o.canWrite()) await this.writeStatus(key, policy, outcome);
    if (outcome.buildError) throw new Error(`bundle build failed: ${outcome.buildError}`);
  }

  private async writeStatus(key: string, policy: McpSecurityPolicy, outcome: BundleOutcome): Promise<void> {
    const now = Date.now();
    const distribution = this.o.leases ? distributionFor(key, outcome.servedRevision, liveReports(this.o.leases.list(), now)) : undefined;
    // A Lease that lapses sends no event: look again just after the earliest one would.
    if (distribution?.nextExpiry !== undefined) this.queue.addAfter(key, Math.max(0, distribution.nextExpiry - now) + 500);
    const status = desiredPolicyStatus(policy, outcome, distribution, new Date(now));
    if (jsonEqual(status, policy.status ?? {})) {
      this.o.metrics.statusWrites.inc({ kind: 'McpSecurityPolicy', outcome: 'skipped' });
      return;
    }
    const { namespace, name } = policy.metadata;
    try {
      await this.o.client.apply(
        { group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace, name, subresource: 'status' },
        { apiVersion, kind: 'McpSecurityPolicy', metadata: { name, namespace }, status },
        fieldManager,
      );
    } catch (err) {
      this.o.metrics.statusWrites.inc({ kind: 'McpSecurityPolicy', outcome: 'failed' });
      throw err;
    }
    this.o.metrics.statusWrites.inc({ kind: 'McpSecurityPolicy', outcome: 'written' });
    const before = getCondition(policy.status?.conditions, 'Ready');
    const after = getCondition(status.conditions, 'Ready');
    if (after && (before?.status !== after.status || before.reason !== after.reason)) {
      this.log.info({ key, ready: after.status, reason: after.reason, generation: policy.metadata.generation }, after.message);
      await this.o.events.record(
        { apiVersion, kind: 'McpSecurityPolicy', name: name ?? '', namespace, uid: policy.metadata.uid },
        after.status === 'True' ? 'Normal' : 'Warning',
        after.reason,
        'Validate',
        after.message,
      );
    }
    if (status.revision && status.revision !== policy.status?.revision && outcome.current) {
      await this.o.events.record(
        { apiVersion, kind: 'McpSecurityPolicy', name: name ?? '', namespace, uid: policy.metadata.uid },
        'Normal',
        'BundleCompiled',
        'Compile',
        `serving bundle revision ${status.revision}` + (policy.status?.revision ? ` (was ${policy.status.revision})` : ''),
      );
    }
  }
}

function policyKeysIn(annotation: string | undefined): string[] {
  if (!annotation) return [];
  try {
    const parsed: unknown = JSON.parse(annotation);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.keys(parsed) : [];
  } catch {
    return [];
  }
}
