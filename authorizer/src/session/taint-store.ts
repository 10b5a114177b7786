// Where taint lives. Taint changes rarely (once per source label per session) and must survive a
// restart and be seen by every replica, so it is kept in the API server: one McpSessionTaint per
// key, in the authorizer's namespace, named by a hash of the key. Each replica caches what it
// wrote and read; a decision that could be refused for taint (a sink) reads the objects afresh
// (SessionState asks), so a taint written through replica A binds replica B at its next sink.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { McpSessionTaint, TaintEntry } from '../../../api/v1alpha1/index.ts';
import { isConflict, isNotFound, type KubeClient } from '../../../pkg/kube/client.ts';

export type { TaintEntry };

/** One key's taint, as the store hands it out. */
export interface KeyTaint {
  entries: TaintEntry[];
  /** Epoch ms after which the taint has lapsed. */
  expiresAt: number;
}

export interface TaintKey {
  key: string;
  scope: 'session' | 'caller';
  issuer: string;
  subject: string;
  session?: string;
}

export interface TaintStore {
  /** What this replica knows without asking anyone. */
  cached(key: string): TaintEntry[];
  /** Read from the durable store (and cached). Throws when it cannot be read. */
  fresh(key: string): Promise<TaintEntry[]>;
  /** Adds entries (the first per label is kept) and extends the taint to now + ttlMs. Throws when it cannot be written. */
  add(key: TaintKey, entries: readonly TaintEntry[], ttlMs: number): Promise<void>;
}

/** Labels kept per key: one entry per label, so this bounds an object's size. */
const maxEntries = 256;

function merge(current: readonly TaintEntry[], added: readonly TaintEntry[]): TaintEntry[] {
  const byLabel = new Map(current.map((e) => [e.label, e]));
  for (const e of added) if (!byLabel.has(e.label) && byLabel.size < maxEntries) byLabel.set(e.label, e);
  return [...byLabel.values()];
}

class TaintCache {
  readonly #m = new Map<string, KeyTaint>();
  readonly now: () => number;
  readonly maxKeys: number;
  constructor(now: () => number, maxKeys = 100_000) {
    this.now = now;
    this.maxKeys = maxKeys;
  }
  get(key: string): KeyTaint | undefined {
    const t = this.#m.get(key);
    if (t && t.expiresAt <= this.now()) {
      this.#m.delete(key);
      return undefined;
    }
    return t;
  }
  set(key: string, t: KeyTaint | undefined): void {
    this.#m.delete(key);
    if (!t || t.expiresAt <= this.now()) return;
    this.#m.set(key, t);
    if (this.#m.size > this.maxKeys) this.#m.delete(this.#m.keys().next().value!);
  }
}

/** A replica-local store: for tests and for an authorizer without API access (taint then dies with the pod). */
export class MemoryTaintStore implements TaintStore {
  readonly #cache: TaintCache;
  constructor(now: () => number = Date.now) {
    this.#cache = new TaintCache(now);
  }
  cached(key: string): TaintEntry[] {
    return this.#cache.get(key)?.entries ?? [];
  }
  async fresh(key: string): Promise<TaintEntry[]> {
    return this.cached(key);
  }
  async add(key: TaintKey, entries: readonly TaintEntry[], ttlMs: number): Promise<void> {
    const cur = this.#cache.get(key.key);
    this.#cache.set(key.key, { entries: merge(cur?.entries ?? [], entries), expiresAt: Math.max(cur?.expiresAt ?? 0, this.#cache.now() + ttlMs) });
  }
}

export interface KubeTaintStoreOptions {
  client: KubeClient;
  /** The authorizer's own namespace. */
  namespace: string;
  log: Logger;
  now?: () => number;
  fieldManager?: string;
}

const ref = (namespace: string, name?: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsessiontaints', namespace, ...(name ? { name } : {}) });

/** The object name of a key: a hash, so neither ids nor identities appear in names or URLs. */
export const taintObjectName = (key: string) => `taint-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;

export class KubeTaintStore implements TaintStore {
  readonly #o: KubeTaintStoreOptions;
  readonly #cache: TaintCache;
  readonly #now: () => number;

  constructor(o: KubeTaintStoreOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#cache = new TaintCache(this.#now);
  }

  cached(key: string): TaintEntry[] {
    return this.#cache.get(key)?.entries ?? [];
  }

  async fresh(key: string): Promise<TaintEntry[]> {
    const obj = await this.#read(key);
    const t = obj ? this.#taintOf(obj) : undefined;
    this.#cache.set(key, t);
    return t?.entries ?? [];
  }

  async add(key: TaintKey, entries: readonly TaintEntry[], ttlMs: number): Promise<void> {
    const cached = this.#cache.get(key.key);
    const expiresAt = this.#now() + ttlMs;
    const known = new Set(cached?.entries.map((e) => e.label));
    // Nothing new and the taint is far from lapsing: no write (taint changes stay rare).
    if (cached && entries.every((e) => known.has(e.label)) && cached.expiresAt - this.#now() > ttlMs / 2) return;
    const name = taintObjectName(key.key);
    for (let attempt = 0; ; attempt++) {
      const current = await this.#read(key.key);
      const cur = current ? this.#taintOf(current) : undefined;
      const merged: KeyTaint = { entries: merge(cur?.entries ?? [], entries), expiresAt: Math.max(cur?.expiresAt ?? 0, expiresAt) };
      const body: McpSessionTaint = {
        apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSessionTaint',
        metadata: { name, namespace: this.#o.namespace, labels: { 'app.kubernetes.io/managed-by': 'toolgate-authorizer' }, ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}) },
        spec: {
          scope: key.scope, issuer: key.issuer, subject: key.subject, ...(key.session !== undefined ? { session: key.session } : {}),
          entries: merged.entries, expiresAt: new Date(merged.expiresAt).toISOString(),
        },
      };
      try {
        // An expired object is replaced as if absent: its old entries no longer count.
        if (current) await this.#o.client.replace(ref(this.#o.namespace, name), body, this.#manager);
        else await this.#o.client.create(ref(this.#o.namespace), body, this.#manager);
        this.#cache.set(key.key, merged);
        return;
      } catch (err) {
        // Another replica wrote the same key meanwhile: read its version and merge again.
        if (attempt < 5 && isConflict(err)) continue;
        throw err;
      }
    }
  }

  /** Deletes lapsed objects; the authorizer runs it periodically. Returns how many it deleted. */
  async collect(): Promise<number> {
    const list = await this.#o.client.list<McpSessionTaint>(ref(this.#o.namespace));
    let deleted = 0;
    for (const obj of list.items) {
      if (Date.parse(obj.spec.expiresAt) > this.#now()) continue;
      try {
        await this.#o.client.delete(ref(this.#o.namespace, obj.metadata.name));
        deleted++;
      } catch (err) {
        if (!isNotFound(err)) this.#o.log.warn({ err, name: obj.metadata.name }, 'could not delete a lapsed McpSessionTaint');
      }
    }
    return deleted;
  }

  get #manager(): string {
    return this.#o.fieldManager ?? 'toolgate-authorizer';
  }

  async #read(key: string): Promise<McpSessionTaint | undefined> {
    try {
      return await this.#o.client.get<McpSessionTaint>(ref(this.#o.namespace, taintObjectName(key)));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  #taintOf(obj: McpSessionTaint): KeyTaint | undefined {
    const expiresAt = Date.parse(obj.spec.expiresAt);
    if (!Number.isFinite(expiresAt) || expiresAt <= this.#now()) return undefined;
    return { entries: obj.spec.entries ?? [], expiresAt };
  }
}
