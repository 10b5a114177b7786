// Tool names and tool lists across upstream servers. Downstream, every tool is named
// `<server><separator><tool>` (default separator `__`). Server names are DNS labels
// ([a-z0-9-]), so a separator with any other character splits unambiguously at its first
// occurrence: `github__create_issue` is tool `create_issue` of server `github`.
// Each upstream session keeps its own catalog: a server may list different tools to clients
// with different capabilities, and the annotations it reports are cached with the list.
import type { ToolAnnotations } from '../../../pkg/policy/engine/index.ts';
import type { UpstreamSession } from './upstream.ts';

export const defaultSeparator = '__';

export interface UpstreamTool {
  name: string;
  annotations?: ToolAnnotations;
  [k: string]: unknown;
}

/** Whether a separator can never occur inside a server name (a DNS label). */
export function validSeparator(sep: string): boolean {
  return sep.length > 0 && sep.length <= 8 && /[^a-z0-9-]/.test(sep) && !/\s/.test(sep);
}

export function prefixedName(server: string, tool: string, sep: string): string {
  return `${server}${sep}${tool}`;
}

export function splitName(name: string, sep: string): { server: string; tool: string } | undefined {
  const i = name.indexOf(sep);
  if (i <= 0 || i + sep.length >= name.length) return undefined;
  return { server: name.slice(0, i), tool: name.slice(i + sep.length) };
}

/** Upper bound on upstream pages per listing: a server that keeps returning cursors is cut off. */
export const maxPages = 100;

export class ToolCatalog {
  readonly #upstream: UpstreamSession;
  #tools: UpstreamTool[] | undefined;
  #byName = new Map<string, UpstreamTool>();
  /** Names the upstream listed more than once: refused, since either definition could be meant. */
  #duplicates = new Set<string>();
  #generation = 0;
  #loading: Promise<void> | undefined;

  constructor(upstream: UpstreamSession) {
    this.#upstream = upstream;
  }

  get loaded(): boolean {
    return this.#tools !== undefined;
  }

  /** Drops the cached list (upstream said notifications/tools/list_changed). */
  invalidate(): void {
    this.#generation++;
    this.#tools = undefined;
  }

  /** The upstream's full tool list, every page fetched; cached until invalidated. */
  async tools(signal?: AbortSignal): Promise<readonly UpstreamTool[]> {
    while (this.#tools === undefined) {
      this.#loading ??= this.#load(signal).finally(() => { this.#loading = undefined; });
      await this.#loading;
    }
    return this.#tools;
  }

  lookup(tool: string): { tool?: UpstreamTool; duplicate: boolean } {
    if (this.#duplicates.has(tool)) return { duplicate: true };
    const t = this.#byName.get(tool);
    return t ? { tool: t, duplicate: false } : { duplicate: false };
  }

  duplicates(): string[] {
    return [...this.#duplicates];
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
    const byName = new Map<string, UpstreamTool>();
    const duplicates = new Set<string>();
    for (const t of all) {
      if (byName.has(t.name)) duplicates.add(t.name);
      byName.set(t.name, t);
    }
    for (const d of duplicates) byName.delete(d);
    this.#byName = byName;
    this.#duplicates = duplicates;
    this.#tools = all.filter((t) => !duplicates.has(t.name));
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
