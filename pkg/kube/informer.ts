// A watch-backed cache of one resource, built on @kubernetes/client-node's informer (which
// lists, watches, and relists by itself on 410 Gone). What it lacks we add here: on any other
// error the informer stops, so we restart it with capped, jittered backoff; every event is
// logged and counted; `synced()` resolves after the first successful list.
import { makeInformer, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { KubeObject } from '../../api/v1alpha1/index.ts';
import type { Logger } from 'pino';
import { errorMessage } from '../observability/log.ts';
import type { OperatorMetrics } from '../observability/metrics.ts';
import { Backoff, type BackoffOptions } from '../retry/backoff.ts';
import { resourcePath, type KubeClient, type ResourceRef } from './client.ts';

export type WatchEventType = 'add' | 'update' | 'delete';
export type WatchHandler<T> = (type: WatchEventType, obj: T) => void;

export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : (obj.metadata?.name ?? '');
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface InformerOptions {
  /** With `namespace`: watch that namespace only. */
  resource: Omit<ResourceRef, 'name' | 'subresource'>;
  client: KubeClient;
  /** Watch only objects with these labels (e.g. `toolgate.io/authorizer=true`). */
  labelSelector?: string;
  log: Logger;
  metrics?: OperatorMetrics;
  /** Delays between restarts after watch errors. Default: from 500 ms, doubling, up to 30 s, jittered. */
  backoff?: BackoffOptions;
}

export class ResourceInformer<T extends KubeObject> {
  private readonly informer;
  private readonly handlers: WatchHandler<T>[] = [];
  private readonly log: Logger;
  private readonly name: string;
  private hasSynced = false;
  private syncWaiters: Array<() => void> = [];
  private readonly backoff: Backoff;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly opts: InformerOptions;

  constructor(opts: InformerOptions) {
    this.opts = opts;
    this.name = opts.resource.group ? `${opts.resource.plural}.${opts.resource.group}` : opts.resource.plural;
    this.log = opts.log.child({ informer: this.name });
    this.backoff = new Backoff(opts.backoff);
    const path = resourcePath(opts.resource);
    // Objects stay plain JSON (our list and client-node's watch both parse JSON without the
    // typed deserializer), so the casts below only bridge client-node's Date-typed metadata.
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const result = await opts.client.list<T>(opts.resource, opts.labelSelector ? { labelSelector: opts.labelSelector } : undefined);
      this.markSynced();
      return result as unknown as KubernetesListObject<KubernetesObject>;
    };
    this.informer = makeInformer<KubernetesObject>(opts.client.kubeConfig, path, list, opts.labelSelector);
    const emit = (type: WatchEventType) => (raw: KubernetesObject) => {
      const obj = raw as unknown as T;
      opts.metrics?.watchEvents.inc({ resource: this.name, event: type });
      this.log.debug({ event: type, key: objectKey(obj), resourceVersion: obj.metadata?.resourceVersion }, 'watch event');
      // A good event proves the connection healthy again.
      this.backoff.reset();
      for (const h of this.handlers) h(type, obj);
    };
    this.informer.on('add', emit('add'));
    this.informer.on('update', emit('update'));
    this.informer.on('delete', emit('delete'));
    this.informer.on('error', (err: unknown) => this.restartLater(err));
  }

  on(handler: WatchHandler<T>): void {
    this.handlers.push(handler);
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.informer.start();
    } catch (err) {
      this.restartLater(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  synced(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  get(key: string): T | undefined {
    const { namespace, name } = splitKey(key);
    return this.informer.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): T[] {
    return this.informer.list(namespace) as unknown as T[];
  }

  private markSynced(): void {
    if (this.hasSynced) return;
    this.hasSynced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    const delay = this.backoff.next();
    this.opts.metrics?.watchRestarts.inc({ resource: this.name });
    this.log.warn({ err: errorMessage(err), attempt: this.backoff.failures, retryInMs: delay }, 'watch failed; restarting informer');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      void this.start();
    }, delay);
    this.restartTimer.unref();
  }
}
