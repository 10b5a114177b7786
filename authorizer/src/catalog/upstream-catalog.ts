// The authorizer's own knowledge of what each governed server lists: one catalog for both front
// ends, so a tools/call is decided with the same server annotations whether it came through
// Envoy (which never shows the authorizer a tools/list) or through the MCP proxy.
//
// Freshness is bounded on both sides. A list is fetched when a bundle brings a server (warm),
// refetched in the background once it is older than refreshMs, at once when the server said
// notifications/tools/list_changed, and when a called name is missing — at most once per
// missRefreshMs per server, so a client spraying made-up names cannot make the authorizer hammer
// the upstream. A fetch that fails keeps the last good list; with none, lookups answer
// 'unavailable' and the gate decides without server annotations.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ToolIndex, type CatalogLookup, type CatalogTool, type ToolCatalog } from '../gate/catalog.ts';
import type { PolicyRouter } from '../gate/policy-router.ts';
import type { GatewayConfig, GatewayServer } from '../gate/types.ts';
import type { ToolPins } from '../pinning/tool-pins.ts';
import type { ListerFactory, ToolLister } from './mcp-lister.ts';

export interface UpstreamCatalogOptions {
  router: PolicyRouter;
  lister: ListerFactory;
  log: Logger;
  registry?: Registry;
  /** A list older than this is refetched in the background. Default 5 min. */
  refreshMs?: number;
  /** A missing name refetches the list at most this often per server. Default 10 s. */
  missRefreshMs?: number;
  /** One listing (connect and every page) gives up after this. Default 5 s. */
  timeoutMs?: number;
  now?: () => number;
  /** Pins each listed tool's definition and labels poisoned ones (authorizer/src/pinning); lookups then carry the pin check. */
  pins?: ToolPins;
}

interface Entry {
  server: GatewayServer;
  policy: GatewayConfig['policy'];
  lister: ToolLister;
  index?: ToolIndex;
  fetchedAt: number;
  /** The server said its list changed since it was fetched. */
  stale: boolean;
  error?: string;
  loading?: Promise<void>;
}

export class UpstreamToolCatalog implements ToolCatalog {
  readonly #o: UpstreamCatalogOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #fetches: Counter<'server' | 'result'> | undefined;

  constructor(o: UpstreamCatalogOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    this.#fetches = o.registry
      ? new Counter({ name: 'toolgate_authorizer_tool_catalog_fetches_total', help: 'tools/list fetches of the authorizer\'s tool catalog, by governed server and result.', labelNames: ['server', 'result'] as const, registers: [o.registry] })
      : undefined;
  }

  async lookup(server: string, tool: string, signal?: AbortSignal): Promise<CatalogLookup> {
    const e = this.#entry(server);
    if (!e) return { kind: 'unavailable', reason: `server "${server}" is not governed by a loaded policy` };
    if (!e.index || e.stale) await this.#waitFor(this.#fetch(e), signal);
    else if (this.#now() - e.fetchedAt >= (this.#o.refreshMs ?? 300_000)) void this.#fetch(e);
    if (!e.index) return { kind: 'unavailable', reason: e.error ?? `no tools/list from server "${server}" yet` };
    const found = e.index.lookup(tool);
    if (found.kind !== 'unlisted' || this.#now() - e.fetchedAt < (this.#o.missRefreshMs ?? 10_000)) return this.#withPin(server, found);
    await this.#waitFor(this.#fetch(e), signal);
    return this.#withPin(server, e.index.lookup(tool));
  }

  /** A listed tool with what its pin says (labels, a changed definition), checked now: an acceptance counts at once. */
  #withPin(server: string, found: CatalogLookup): CatalogLookup {
    if (found.kind !== 'listed' || !this.#o.pins) return found;
    const route = this.#o.router.route(server);
    return { ...found, pin: this.#o.pins.check(route.ok ? route.entry.gateway : undefined, server, found.tool) };
  }

  /** Pins a fetched listing before it is used; a failure leaves the tools unpinned, which check() refuses (fail closed). */
  async #pin(server: string, tools: readonly CatalogTool[], listedAt: Date): Promise<void> {
    const route = this.#o.router.route(server);
    if (!this.#o.pins || !route.ok || !route.entry.gateway) return;
    try {
      await this.#o.pins.observe(route.entry.gateway, server, tools, listedAt);
    } catch (err) {
      this.#o.log.error({ server, err: (err as Error).message }, 'tool definitions not pinned; calls to unpinned tools are refused until they are');
    }
  }

  /** Fetches the lists of newly governed servers and forgets servers no longer governed (call after a bundle load). */
  warm(): void {
    const governed = new Set<string>();
    for (const { server } of this.#o.router.servers()) {
      governed.add(server.name);
      const e = this.#entry(server.name);
      if (e && !e.index) void this.#fetch(e);
    }
    for (const [name, e] of this.#entries) {
      if (!governed.has(name)) this.#forget(name, e);
    }
  }

  async close(): Promise<void> {
    const entries = [...this.#entries];
    this.#entries.clear();
    await Promise.allSettled(entries.map(([, e]) => e.lister.close()));
  }

  /** The entry of a governed server, replaced when its URL or policy changed. */
  #entry(name: string): Entry | undefined {
    const route = this.#o.router.route(name);
    const current = this.#entries.get(name);
    if (!route.ok || !route.entry.gateway) {
      if (current && route.ok === false && route.reason !== 'not-loaded') this.#forget(name, current);
      return undefined;
    }
    const policy = route.entry.gateway.policy;
    if (current && current.server.url === route.server.url && current.policy.namespace === policy.namespace && current.policy.name === policy.name) {
      current.server = route.server;
      return current;
    }
    if (current) this.#forget(name, current);
    const changed: { entry?: Entry } = {};
    const lister = this.#o.lister(route.server, policy, () => {
      if (changed.entry) changed.entry.stale = true;
    });
    const e: Entry = { server: route.server, policy, lister, fetchedAt: Number.NEGATIVE_INFINITY, stale: false };
    changed.entry = e;
    this.#entries.set(name, e);
    return e;
  }

  #forget(name: string, e: Entry): void {
    this.#entries.delete(name);
    void e.lister.close();
  }

  /** One fetch per server at a time; callers arriving meanwhile share it. Never rejects. */
  #fetch(e: Entry): Promise<void> {
    e.loading ??= (async () => {
      const server = e.server.name;
      e.stale = false;
      try {
        // When the listing was asked for: a front end may have seen a newer one meanwhile.
        const listedAt = new Date();
        const tools = await e.lister.list(AbortSignal.timeout(this.#o.timeoutMs ?? 5_000));
        await this.#pin(server, tools, listedAt);
        e.index = new ToolIndex(tools);
        e.error = undefined;
        this.#fetches?.inc({ server, result: 'ok' });
        if (e.index.duplicates.length) this.#o.log.warn({ server, tools: e.index.duplicates }, 'upstream lists tools more than once; calls to them are refused');
      } catch (err) {
        e.error = `tools/list of server "${server}" failed: ${(err as Error).message}`;
        this.#fetches?.inc({ server, result: 'error' });
        this.#o.log.warn({ server, err: (err as Error).message, kept: e.index !== undefined }, 'tool catalog fetch failed');
      } finally {
        e.fetchedAt = this.#now();
        e.loading = undefined;
      }
    })();
    return e.loading;
  }

  /** Waits for `p` unless the caller goes away first (the fetch itself carries on). */
  async #waitFor(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return p;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      void p.then(done);
    });
  }
}
