// Tells the operator which bundle revisions this authorizer pod enforces, Gatekeeper's
// per-pod status pattern without a CRD of our own: one coordination.k8s.io/v1 Lease per pod,
// renewed while the pod lives, carrying the revisions in an annotation. The operator lists
// these Leases (label toolgate.io/authorizer) and counts the live ones (renewTime +
// leaseDurationSeconds in the future) per revision for `Distributed: N/N authorizers at X`.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../../pkg/json/canonical.ts';
import { isNotFound, microTime, type KubeClient } from '../../../pkg/kube/client.ts';
import { errorMessage, type Logger } from '../../../pkg/observability/log.ts';
import type { RevisionSink } from './clients.ts';

import { authorizerLeaseLabel, bundleRevisionsAnnotation } from '../../../api/v1alpha1/index.ts';
export const fieldManager = 'toolgate-authorizer';
const leasePrefix = 'toolgate-authorizer-';

export interface RevisionReporterOptions {
  client: KubeClient;
  /** The pod's namespace (downward API). */
  namespace: string;
  /** The pod's name (downward API): the Lease's holder. */
  podName: string;
  /** The pod's UID: when given, the Lease is owned by the pod and garbage-collected with it. */
  podUid?: string;
  /** Default 30 s. */
  leaseDurationSeconds?: number;
  /** Default 10 s. */
  renewIntervalMs?: number;
  log?: Logger;
}

/** The Lease name for a pod; long pod names are shortened with a hash to stay a valid name. */
export function leaseName(podName: string): string {
  const name = `${leasePrefix}${podName}`;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(podName).digest('hex').slice(0, 10);
  return `${name.slice(0, 253 - 11).replace(/[-.]+$/, '')}-${hash}`;
}

/** The annotation value: canonical JSON (sorted keys), so equal revisions write equal bytes. */
export function revisionsValue(revisions: Readonly<Record<string, string>>): string {
  return canonicalJson(revisions);
}

export class RevisionReporter implements RevisionSink {
  readonly leaseName: string;
  readonly #opts: RevisionReporterOptions;
  readonly #duration: number;
  readonly #log: Logger | undefined;
  #desired = '{}';
  #written: string | undefined;
  #acquired = microTime();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #pending = false;
  #pendingRenew = false;
  #stopped = false;

  constructor(opts: RevisionReporterOptions) {
    this.#opts = opts;
    this.leaseName = leaseName(opts.podName);
    this.#duration = opts.leaseDurationSeconds ?? 30;
    this.#log = opts.log?.child({ lease: `${opts.namespace}/${this.leaseName}` });
  }

  /** Creates the Lease now and renews it every renewIntervalMs until stop(). */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#acquired = microTime();
    await this.#write(true);
    const interval = this.#opts.renewIntervalMs ?? 10_000;
    this.#timer = setInterval(() => void this.#write(true), interval);
    this.#timer.unref();
  }

  /** Records the revisions in force; written at once unless they are what the Lease already says. */
  update(revisions: Readonly<Record<string, string>>): void {
    this.#desired = revisionsValue(revisions);
    if (this.#desired !== this.#written && !this.#stopped) void this.#write(false);
  }

  /** Resolves once every write asked for so far has been attempted. */
  flush(): Promise<void> {
    return this.#writing;
  }

  /** Stops renewing and deletes the Lease: this pod no longer counts as an authorizer. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#writing;
    try {
      await this.#opts.client.delete(this.#ref());
    } catch (err) {
      if (!isNotFound(err)) this.#log?.warn({ err: errorMessage(err) }, 'could not delete the authorizer Lease; it expires on its own');
    }
  }

  /**
   * Writes are serialised; a write asked for while one is in flight is folded into a single
   * follow-up. `renew` writes even when the annotation is unchanged (that is the heartbeat);
   * an update whose annotation is already written is skipped.
   */
  #write(renew: boolean): Promise<void> {
    this.#pendingRenew ||= renew;
    if (this.#pending) return this.#writing;
    this.#pending = true;
    this.#writing = this.#writing.then(async () => {
      const renewing = this.#pendingRenew;
      this.#pending = false;
      this.#pendingRenew = false;
      if (this.#stopped || (!renewing && this.#desired === this.#written)) return;
      const value = this.#desired;
      try {
        await this.#opts.client.apply(this.#ref(), this.#lease(value), fieldManager);
        if (this.#written !== value) this.#log?.info({ revisions: value }, 'reported bundle revisions');
        this.#written = value;
      } catch (err) {
        // The next renew retries; until then the operator sees the older revisions or a stale Lease.
        this.#log?.warn({ err: errorMessage(err) }, 'could not write the authorizer Lease');
      }
    });
    return this.#writing;
  }

  #ref() {
    return { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: this.#opts.namespace, name: this.leaseName };
  }

  #lease(revisions: string) {
    const { podName, podUid } = this.#opts;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.leaseName,
        namespace: this.#opts.namespace,
        labels: { 'app.kubernetes.io/component': 'authorizer', [authorizerLeaseLabel]: 'true' },
        annotations: { [bundleRevisionsAnnotation]: revisions },
        ...(podUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: podName, uid: podUid }] } : {}),
      },
      spec: {
        holderIdentity: podName,
        leaseDurationSeconds: this.#duration,
        acquireTime: this.#acquired,
        renewTime: microTime(),
      },
    };
  }
}
