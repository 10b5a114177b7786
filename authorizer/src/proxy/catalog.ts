// Tool lists across upstream servers, for the downstream tools/list. Downstream, every tool is
// named `<server><separator><tool>` (gate/tool-names.ts). Each upstream session keeps its own
// list: a server may list different tools to clients with different capabilities, and a client
// is shown what its own sessions list. What a call is decided with comes from the gate's catalog
// instead (the authorizer's own listing, shared with ext_authz), never from this one.
import { ToolIndex, type CatalogTool } from '../gate/catalog.ts';
import { prefixedName } from '../gate/tool-names.ts';
import type { UpstreamSession } from './upstream.ts';

export { defaultSeparator, prefixedName, splitName, validSeparator } from '../gate/tool-names.ts';

export type UpstreamTool = CatalogTool;

/** Upper bound on upstream pages per listing: a server that keeps returning cursors is cut off. */
export const maxPages = 100;

export class ToolCatalog {
  readonly #upstream: UpstreamSession;
  #index: ToolIndex | undefined;
  #generation = 0;
  #loading: Promise<void> | undefined;

  constructor(upstream: UpstreamSession) {
    this.#upstream = upstream;
  }

  /** Drops the cached list (upstream said notifications/tools/list_changed). */
  invalidate(): void {
    this.#generation++;
    this.#index = undefined;
  }

  /** The upstream's full tool list, every page fetched, names listed twice withheld; cached until invalidated. */
  async tools(signal?: AbortSignal): Promise<readonly UpstreamTool[]> {
    while (this.#index === undefined) {
      this.#loading ??= this.#load(signal).finally(() => { this.#loading = undefined; });
      await this.#loading;
    }
    return this.#index.tools;
  }

  /** Names the upstream listed more than once: either definition could be meant. */
  duplicates(): readonly string[] {
    return this.#index?.duplicates ?? [];
  }

  async #load(signal?: AbortSignal): Promise<void> {
    const generation = this.#generation;
    const all: UpstreamTool[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await this.#upstream.call('tools/list', cursor !== undefined ? { cursor } : {}, signal) as { tools?: unknown; nextCursor?: unknown };
      if (!Array.isArray(page?.tools)) throw new Error(`upstream server "${this.#upstream.name}" answered tools/list without a tools array`);
      for (const t of page.tools as unknown[]) {
        if (typeof t === 'object' && t !== null && typeof (t as UpstreamTool).name === 'string' && (t as UpstreamTool).name !== '') all.push(t as UpstreamTool);
      }
      cursor = typeof page.nextCursor === 'string' && page.nextCursor !== '' ? page.nextCursor : undefined;
      if (++pages >= maxPages && cursor !== undefined) throw new Error(`upstream server "${this.#upstream.name}" returned more than ${maxPages} tools/list pages`);
    } while (cursor !== undefined);
    // A list_changed that arrived while fetching makes this result stale: fetch again.
    if (generation !== this.#generation) return;
    this.#index = new ToolIndex(all);
  }
}

/**
 * The downstream tools/list: each server's tools the caller may see, prefixed. A prefixed name
 * that two entries would share is refused for both (and reported), never resolved by order.
 */
export function mergeTools(
  perServer: ReadonlyArray<{ server: string; tools: readonly UpstreamTool[] }>,
  sep: string,
): { tools: UpstreamTool[]; collisions: string[] } {
  const out = new Map<string, UpstreamTool>();
  const collisions = new Set<string>();
  for (const { server, tools } of perServer) {
    for (const t of tools) {
      const name = prefixedName(server, t.name, sep);
      if (out.has(name)) collisions.add(name);
      out.set(name, { ...t, name });
    }
  }
  for (const c of collisions) out.delete(c);
  return { tools: [...out.values()], collisions: [...collisions] };
}
