// All bundle clients of one authorizer: one per McpSecurityPolicy it enforces, each with its own
// PolicyEngine. They share the token file, the metrics and a revision sink (the Lease
// reporter), and together answer /readyz: ready once every bundle has loaded once.
import type { Registry } from 'prom-client';
import type { PolicyEngine } from '../../../pkg/policy/engine/engine.ts';
import { serviceAccountTokenPath } from '../../../pkg/kube/service-account.ts';
import { BundleClient, type BundleClientOptions, type BundleLoaded } from './client.ts';
import { FileSource } from './file-source.ts';
import { createBundleClientMetrics, type BundleClientMetrics } from './metrics.ts';

export interface RevisionSink {
  /** Every bundle's revision in force, by bundle name; called after each load. */
  update(revisions: Readonly<Record<string, string>>): void;
}

export interface BundleClientsOptions extends Omit<BundleClientOptions, 'bundle' | 'engine' | 'metrics' | 'token' | 'onLoaded'> {
  /** Engine per bundle name ("<namespace>/<name>"). */
  bundles: ReadonlyMap<string, PolicyEngine>;
  /** Where the metrics are registered; none when absent. */
  registry?: Registry;
  /** Or metrics created elsewhere on the registry (they can be registered only once). */
  metrics?: BundleClientMetrics;
  /** How often the token file is re-read. Default 60 s. */
  tokenRefreshMs?: number;
  reporter?: RevisionSink;
  onLoaded?: (loaded: BundleLoaded) => void;
}

export class BundleClients {
  readonly clients: ReadonlyMap<string, BundleClient>;

  constructor(opts: BundleClientsOptions) {
    if (opts.bundles.size === 0) throw new Error('no bundles configured: the authorizer would deny every call');
    const { bundles, registry, reporter, onLoaded, tokenRefreshMs, ...shared } = opts;
    const metrics = opts.metrics ?? (registry ? createBundleClientMetrics(registry) : undefined);
    const token = new FileSource({ path: opts.tokenPath ?? serviceAccountTokenPath, what: 'service-account token', ...(tokenRefreshMs ? { refreshMs: tokenRefreshMs } : {}) });
    const clients = new Map<string, BundleClient>();
    for (const [bundle, engine] of bundles) {
      clients.set(bundle, new BundleClient({
        ...shared,
        bundle,
        engine,
        token,
        ...(metrics ? { metrics } : {}),
        onLoaded: (loaded) => {
          reporter?.update(this.revisions());
          onLoaded?.(loaded);
        },
      }));
    }
    this.clients = clients;
  }

  /** True once every configured bundle has loaded at least once. */
  get ready(): boolean {
    return [...this.clients.values()].every((c) => c.ready);
  }

  /** The revision in force of each loaded bundle. */
  revisions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, c] of this.clients) if (c.revision !== undefined) out[name] = c.revision;
    return out;
  }

  /** A /readyz check (observability/server.ts ReadinessCheck): names what is still missing. */
  readiness(): { ok: boolean; detail: string } {
    const missing = [...this.clients.values()].filter((c) => !c.ready);
    if (missing.length === 0) return { ok: true, detail: `${this.clients.size} bundle(s) loaded` };
    return { ok: false, detail: `waiting for bundle(s) ${missing.map((c) => `${c.bundle}${c.lastError ? ` (${c.lastError})` : ''}`).join(', ')}` };
  }

  start(): void {
    for (const c of this.clients.values()) c.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
  }
}
