// What the gate asks about a called tool: is it on the governed server's tools/list, exactly by
// that name, and with which annotations. Both front ends hand the gate the same catalog (the
// authorizer's own listing of every governed server, authorizer/src/catalog), so a call is
// decided with the same annotations whichever front end it came through; `kubectl mcp explain`
// hands it the tool the user describes.
import type { ToolAnnotations } from '../../../pkg/policy/engine/index.ts';
import type { PinCheck } from '../pinning/tool-pins.ts';

/** One entry of an upstream's tools/list. Everything but the name is the upstream's word (untrusted). */
export interface CatalogTool {
  name: string;
  annotations?: ToolAnnotations;
  [k: string]: unknown;
}

export type CatalogLookup =
  /** The server lists exactly this name, once; `pin` when the catalog pins definitions (authorizer/src/pinning). */
  | { kind: 'listed'; tool: CatalogTool; pin?: PinCheck }
  /** The server's list is known (and was refreshed on the miss when allowed) and has no such name. */
  | { kind: 'unlisted' }
  /** The server lists the name more than once: either definition could be meant. */
  | { kind: 'duplicate' }
  /** The list could not be read (server down, credentials missing, not a governed server). */
  | { kind: 'unavailable'; reason: string };

export interface ToolCatalog {
  /** Exact lookup: no trimming, case folding or normalisation of `tool`. */
  lookup(server: string, tool: string, signal?: AbortSignal): Promise<CatalogLookup>;
}

/** One server's list, indexed by exact name; names listed twice are kept apart as duplicates. */
export class ToolIndex {
  /** The listed tools, duplicates left out. */
  readonly tools: readonly CatalogTool[];
  readonly duplicates: readonly string[];
  readonly #byName = new Map<string, CatalogTool>();

  constructor(listed: readonly CatalogTool[]) {
    const duplicates = new Set<string>();
    for (const t of listed) {
      if (this.#byName.has(t.name)) duplicates.add(t.name);
      this.#byName.set(t.name, t);
    }
    for (const d of duplicates) this.#byName.delete(d);
    this.duplicates = [...duplicates];
    this.tools = listed.filter((t) => !duplicates.has(t.name));
  }

  lookup(name: string): CatalogLookup {
    if (this.duplicates.includes(name)) return { kind: 'duplicate' };
    const tool = this.#byName.get(name);
    return tool ? { kind: 'listed', tool } : { kind: 'unlisted' };
  }
}

/** Lists tools as given (what `kubectl mcp explain` is told), by server. */
export class StaticToolCatalog implements ToolCatalog {
  readonly #servers: ReadonlyMap<string, ToolIndex>;

  constructor(servers: Record<string, readonly CatalogTool[]>) {
    this.#servers = new Map(Object.entries(servers).map(([server, tools]) => [server, new ToolIndex(tools)]));
  }

  async lookup(server: string, tool: string): Promise<CatalogLookup> {
    return this.#servers.get(server)?.lookup(tool) ?? { kind: 'unavailable', reason: `no tool list for server "${server}"` };
  }
}

/** Without a catalog every lookup is unavailable, so every tools/call is refused (fail closed). */
export const noCatalog: ToolCatalog = {
  lookup: async () => ({ kind: 'unavailable', reason: 'no tool catalog configured' }),
};
