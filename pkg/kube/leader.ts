// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// acquire when the lease is free or expired, renew every retry period, give up leadership when
// renewals fail for longer than the renew deadline, release the lease on a clean stop. Writes
// use the lease's resourceVersion, so two replicas racing for it cannot both win.
import type { Logger } from 'pino';
import { errorMessage } from '../observability/log.ts';
import { isConflict, isNotFound, microTime, type KubeClient, type ResourceRef } from './client.ts';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, 'log'>> & { log: Logger };
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private readonly ref: ResourceRef;

  constructor(opts: LeaderElectionOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
    this.ref = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: opts.namespace, name: opts.name };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops campaigning; if leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    await this.setLeading(false);
    try {
      const lease = await this.o.client.get<Lease>(this.ref);
      if (lease.spec.holderIdentity === this.o.identity) {
        lease.spec = { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime() };
        await this.o.client.replace(this.ref, lease);
      }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'could not release the leader lease');
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    // undefined: the API server could not be asked; a leader keeps leading through that
    // until the renew deadline passes, but steps down at once when someone else holds the lease.
    let held: boolean | undefined;
    try {
      held = await this.tryAcquireOrRenew();
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'leader lease update failed');
    }
    if (held === true) {
      this.lastRenew = Date.now();
      if (!this.leading) await this.setLeading(true);
    } else if (this.leading && (held === false || Date.now() - this.lastRenew > this.o.renewDeadlineMs)) {
      await this.setLeading(false);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.o.retryPeriodMs);
    this.timer.unref();
  }

  private async setLeading(leading: boolean): Promise<void> {
    this.leading = leading;
    this.o.log.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, leading ? 'became leader' : 'stopped leading');
    try {
      await (leading ? this.o.onStartedLeading() : this.o.onStoppedLeading());
    } catch (err) {
      this.o.log.error({ err: errorMessage(err) }, 'leadership callback failed');
    }
  }

  /** One attempt; true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await this.o.client.get<Lease>(this.ref);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: { holderIdentity: this.o.identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      };
      try {
        await this.o.client.create({ ...this.ref, name: undefined }, fresh);
        return true;
      } catch (createErr) {
        if (isConflict(createErr)) return false;
        throw createErr;
      }
    }
    const holder = lease.spec.holderIdentity ?? '';
    const renewedAt = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewedAt + (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000 < now.getTime();
    if (holder !== this.o.identity && holder !== '' && !expired) return false;
    const takingOver = holder !== this.o.identity;
    lease.spec = {
      ...lease.spec,
      holderIdentity: this.o.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(takingOver ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await this.o.client.replace(this.ref, lease);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
