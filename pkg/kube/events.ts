// Events for humans (events.k8s.io/v1), recorded the way client-go's recorder does: the first
// occurrence creates an Event, repeats within the window bump its series instead of flooding
// the namespace, and a failure to record never fails a reconcile.
import type { Logger } from 'pino';
import { errorMessage } from '../observability/log.ts';
import { microTime, type KubeClient } from './client.ts';

export interface Regarding {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  first: number;
}

const seriesWindowMs = 10 * 60_000;

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly controller: string;
  private readonly instance: string;
  private readonly log: Logger;
  private readonly seen = new Map<string, Seen>();

  constructor(opts: { client: KubeClient; controller: string; instance: string; log: Logger }) {
    this.client = opts.client;
    this.controller = opts.controller;
    this.instance = opts.instance;
    this.log = opts.log;
  }

  async record(regarding: Regarding, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void> {
    // Cluster-scoped objects (McpProfile) have their events in `default`, as kubectl expects.
    const namespace = regarding.namespace ?? 'default';
    const key = `${regarding.uid ?? regarding.name}|${type}|${reason}|${note}`;
    const events = { group: 'events.k8s.io', version: 'v1', plural: 'events', namespace };
    const now = Date.now();
    try {
      const prior = this.seen.get(key);
      if (prior && now - prior.first < seriesWindowMs) {
        prior.count++;
        await this.client.mergePatch({ ...events, name: prior.name }, { series: { count: prior.count, lastObservedTime: microTime(new Date(now)) } });
        return;
      }
      const created = await this.client.create<{ metadata: { name: string } }>(events, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        // client-go's naming: the object's name and a hex timestamp (generateName would end in '.').
        metadata: { name: `${regarding.name}.${(now * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`, namespace },
        eventTime: microTime(new Date(now)),
        reportingController: this.controller,
        reportingInstance: this.instance,
        action,
        reason,
        note: note.slice(0, 1024),
        type,
        regarding: { ...regarding, namespace: regarding.namespace },
      });
      this.seen.set(key, { name: created.metadata.name, namespace, count: 1, first: now });
      if (this.seen.size > 5000) this.prune(now);
    } catch (err) {
      this.log.warn({ err: errorMessage(err), reason, regarding: `${regarding.kind}/${regarding.name}` }, 'could not record event');
    }
  }

  private prune(now: number): void {
    for (const [k, v] of this.seen) if (now - v.first >= seriesWindowMs) this.seen.delete(k);
  }
}
