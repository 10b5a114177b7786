// The latest bundle of each name, plus change notification for long polling. The operator
// only puts bundles that compiled, so whatever is here is the last good bundle: a failed
// compile simply leaves the previous one in place.
import type { Logger } from '../../../pkg/observability/log.ts';
import type { BundleMetrics } from './metrics.ts';

export interface StoredBundle {
  name: string;
  revision: string;
  /** The quoted entity tag sent as ETag: "<revision>". */
  etag: string;
  archive: Buffer;
  updatedAt: Date;
}

export type WaitResult =
  | { changed: true; bundle: StoredBundle | undefined }
  | { changed: false; reason: 'timeout' | 'aborted' | 'closed' };

type Listener = (bundle: StoredBundle | undefined) => void;

// RFC 9110 entity-tag characters, so the revision can go between the quotes unescaped.
const etagChars = /^[\x21\x23-\x7e]+$/;

export class BundleStore {
  private readonly bundles = new Map<string, StoredBundle>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly closers = new Set<() => void>();
  private readonly metrics: BundleMetrics | undefined;
  private readonly log: Logger | undefined;

  constructor(opts: { metrics?: BundleMetrics; log?: Logger } = {}) {
    this.metrics = opts.metrics;
    this.log = opts.log;
  }

  /**
   * Makes `bundle` the latest for `name` and wakes its long polls. Returns false (and wakes
   * no one) when the revision is unchanged; the archive is still replaced, since the same
   * content may have been re-signed.
   */
  put(name: string, bundle: { revision: string; archive: Buffer }): boolean {
    if (!name || [...name].some((c) => c < ' ' || c === '\x7f')) throw new Error(`invalid bundle name ${JSON.stringify(name)}`);
    if (!etagChars.test(bundle.revision)) throw new Error(`bundle revision ${JSON.stringify(bundle.revision)} cannot be used as an ETag`);
    const previous = this.bundles.get(name);
    const stored: StoredBundle = { name, revision: bundle.revision, etag: `"${bundle.revision}"`, archive: bundle.archive, updatedAt: new Date() };
    this.bundles.set(name, stored);
    this.metrics?.bundleBytes.set({ bundle: name }, bundle.archive.length);
    if (previous?.revision === bundle.revision) return false;
    this.log?.info({ bundle: name, revision: bundle.revision, previous: previous?.revision, bytes: bundle.archive.length }, 'bundle updated');
    this.notify(name, stored);
    return true;
  }

  get(name: string): StoredBundle | undefined {
    return this.bundles.get(name);
  }

  names(): string[] {
    return [...this.bundles.keys()].sort();
  }

  delete(name: string): boolean {
    if (!this.bundles.delete(name)) return false;
    this.metrics?.bundleBytes.remove({ bundle: name });
    this.notify(name, undefined);
    return true;
  }

  /**
   * Resolves once `name` has a revision other than `revision` (or was deleted), or when the
   * timeout passes, the signal aborts or the store closes.
   */
  waitForChange(name: string, revision: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    const current = this.bundles.get(name);
    if (current?.revision !== revision) return Promise.resolve({ changed: true, bundle: current });
    return new Promise<WaitResult>((resolve) => {
      let set = this.listeners.get(name);
      if (!set) this.listeners.set(name, (set = new Set()));
      const listeners = set;
      const finish = (result: WaitResult) => {
        clearTimeout(timer);
        listeners.delete(listener);
        if (listeners.size === 0) this.listeners.delete(name);
        signal?.removeEventListener('abort', onAbort);
        this.closers.delete(onClose);
        resolve(result);
      };
      const listener: Listener = (bundle) => finish({ changed: true, bundle });
      const onAbort = () => finish({ changed: false, reason: 'aborted' });
      const onClose = () => finish({ changed: false, reason: 'closed' });
      const timer = setTimeout(() => finish({ changed: false, reason: 'timeout' }), timeoutMs);
      listeners.add(listener);
      this.closers.add(onClose);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Number of waiters, for tests and diagnostics. */
  waiting(name?: string): number {
    if (name !== undefined) return this.listeners.get(name)?.size ?? 0;
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /** Releases every waiter (as 'closed'); the bundles stay readable. */
  close(): void {
    for (const close of [...this.closers]) close();
  }

  private notify(name: string, bundle: StoredBundle | undefined): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) listener(bundle);
  }
}
