// resources/list, resources/templates/list and prompts/list, and where a resource or prompt
// request goes. Fronting one server, a listing is the server's own page (its cursor relayed),
// filtered by what the caller may see. Aggregating, every server's full listing is merged: prompt
// names are prefixed like tool names; resource URIs stay as the servers spell them, so a
// request for a URI goes to the server that listed it (or whose one template matches it), and a
// URI two servers list is withheld and refused rather than guessed.
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { isObject } from '../../../pkg/lang/is-object.ts';
import type { CallerIdentity } from '../gate/index.ts';
import { maxPages, prefixedName } from './catalog.ts';
import type { ProxySession, Upstream } from './session.ts';

export type ListedItem = Record<string, unknown>;

/** What a caller may see of one server's listing (the gate's visibleResources & co.); default: everything. */
export type ListingFilter = (server: string, items: readonly ListedItem[], caller: CallerIdentity) => ListedItem[];

export interface ListingFilters {
  resources: ListingFilter;
  resourceTemplates: ListingFilter;
  prompts: ListingFilter;
}

export const showEverything: ListingFilter = (_server, items) => [...items];

export const listings = {
  'resources/list': { key: 'resources', filter: 'resources', capability: 'resources' },
  'resources/templates/list': { key: 'resourceTemplates', filter: 'resourceTemplates', capability: 'resources' },
  'prompts/list': { key: 'prompts', filter: 'prompts', capability: 'prompts' },
} as const satisfies Record<string, { key: string; filter: keyof ListingFilters; capability: string }>;

export type ListingMethod = keyof typeof listings;

export const isListingMethod = (m: string): m is ListingMethod => Object.hasOwn(listings, m);

/** Whether a server said in its initialize result that it has a capability. */
export function hasCapability(u: Upstream, capability: string): boolean {
  const caps = u.session.initializeResult?.capabilities;
  return isObject(caps) && isObject(caps[capability]);
}

/** One page of a listing, items filtered, every other field (nextCursor, _meta) as the server sent it. */
export async function listPage(u: Upstream, method: ListingMethod, params: Record<string, unknown>, filter: ListingFilter, caller: CallerIdentity, signal: AbortSignal): Promise<Record<string, unknown>> {
  const { key } = listings[method];
  const page = await u.session.call(method, params, signal);
  if (!isObject(page) || !Array.isArray(page[key])) throw new Error(`upstream server "${u.session.name}" answered ${method} without a ${key} array`);
  return { ...page, [key]: filter(u.session.name, (page[key] as unknown[]).filter(isObject), caller) };
}

/** Every page of one server's listing, filtered. */
async function listAll(u: Upstream, method: ListingMethod, filter: ListingFilter, caller: CallerIdentity, signal: AbortSignal): Promise<ListedItem[]> {
  const { key } = listings[method];
  const all: ListedItem[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await listPage(u, method, cursor !== undefined ? { cursor } : {}, filter, caller, signal);
    all.push(...(page[key] as ListedItem[]));
    cursor = typeof page.nextCursor === 'string' && page.nextCursor !== '' ? page.nextCursor : undefined;
    if (++pages >= maxPages && cursor !== undefined) throw new Error(`upstream server "${u.session.name}" returned more than ${maxPages} ${method} pages`);
  } while (cursor !== undefined);
  return all;
}

/** Per aggregating session: which server listed each resource URI and template, as last listed. */
class ResourceIndex {
  readonly uris = new Map<string, string | null>();
  readonly templates = new Map<string, string | null>();
  /** null: a template two servers list (a URI it matches is refused, not guessed). */
  compiled: Array<{ server: string | null; template: UriTemplate }> = [];
}

const indexes = new WeakMap<ProxySession, ResourceIndex>();
const indexOf = (s: ProxySession) => {
  let i = indexes.get(s);
  if (!i) indexes.set(s, i = new ResourceIndex());
  return i;
};

/** Records who listed what; a key two servers list maps to null (ambiguous). */
function record(map: Map<string, string | null>, key: string, server: string): boolean {
  const had = map.get(key);
  if (had === undefined) {
    map.set(key, server);
    return true;
  }
  if (had !== server) map.set(key, null);
  return false;
}

export interface MergedListing {
  items: ListedItem[];
  /** Names or URIs withheld because two servers list them. */
  collisions: string[];
  failed: Array<{ server: string; error: string }>;
}

/** The merged listing of every server that has the capability (aggregating endpoints). */
export async function mergedListing(session: ProxySession, method: ListingMethod, filter: ListingFilter, separator: string, caller: CallerIdentity, signal: AbortSignal): Promise<MergedListing> {
  const { capability } = listings[method];
  const ups = session.upstreams().filter((u) => hasCapability(u, capability));
  const failed: MergedListing['failed'] = [];
  const perServer = await Promise.all(ups.map(async (u) => {
    try {
      return { server: u.session.name, items: await listAll(u, method, filter, caller, signal) };
    } catch (err) {
      failed.push({ server: u.session.name, error: (err as Error).message });
      return { server: u.session.name, items: [] };
    }
  }));
  const index = indexOf(session);
  if (method === 'prompts/list') {
    const out = new Map<string, ListedItem>();
    const collisions = new Set<string>();
    for (const { server, items } of perServer) {
      for (const p of items) {
        if (typeof p.name !== 'string' || p.name === '') continue;
        const name = prefixedName(server, p.name, separator);
        if (out.has(name)) collisions.add(name);
        out.set(name, { ...p, name });
      }
    }
    for (const c of collisions) out.delete(c);
    return { items: [...out.values()], collisions: [...collisions], failed };
  }
  const field = method === 'resources/list' ? 'uri' : 'uriTemplate';
  const map = method === 'resources/list' ? index.uris : index.templates;
  map.clear();
  for (const { server, items } of perServer) for (const r of items) if (typeof r[field] === 'string') record(map, r[field], server);
  if (method === 'resources/templates/list') {
    index.compiled = [];
    for (const [t, server] of map) {
      try {
        index.compiled.push({ server, template: new UriTemplate(t) });
      } catch {
        // A template the matcher cannot read routes nothing; exact URIs still do.
      }
    }
  }
  const collisions = [...map].filter(([, s]) => s === null).map(([k]) => k);
  const items = perServer.flatMap(({ items }) => items.filter((r) => typeof r[field] === 'string' && map.get(r[field]) !== null));
  return { items, collisions, failed };
}

/**
 * The server a resource URI (or, for completion/complete, a template) belongs to on an
 * aggregating endpoint: the one that listed it exactly, else the one whose template matches.
 * Listings are refreshed once when the URI is unknown, so a client need not list first.
 */
export async function resourceOwner(session: ProxySession, uri: string, filters: ListingFilters, separator: string, caller: CallerIdentity, signal: AbortSignal): Promise<{ server: string } | { error: string }> {
  const find = (): { server: string } | { error: string } | undefined => {
    const index = indexOf(session);
    const exact = index.uris.get(uri) ?? index.templates.get(uri);
    if (exact === null) return { error: `resource ${JSON.stringify(uri)} is listed by more than one server behind this endpoint; refusing to choose` };
    if (exact !== undefined) return { server: exact };
    const matching = [...new Set(index.compiled.filter((c) => c.template.match(uri) !== null).map((c) => c.server))];
    if (matching.includes(null)) return { error: `resource ${JSON.stringify(uri)} matches a template more than one server behind this endpoint lists; refusing to choose` };
    if (matching.length > 1) return { error: `resource ${JSON.stringify(uri)} matches templates of several servers (${matching.join(', ')}); refusing to choose` };
    return matching.length === 1 ? { server: matching[0]! } : undefined;
  };
  const known = find();
  if (known) return known;
  await mergedListing(session, 'resources/list', filters.resources, separator, caller, signal);
  await mergedListing(session, 'resources/templates/list', filters.resourceTemplates, separator, caller, signal);
  return find() ?? { error: `unknown resource ${JSON.stringify(uri)}: no server behind this endpoint lists it or a template matching it` };
}
