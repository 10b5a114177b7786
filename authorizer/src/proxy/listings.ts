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
export type ListedResource = { uri: string } & ListedItem;
export type ListedResourceTemplate = { uriTemplate: string } & ListedItem;
export type ListedPrompt = { name: string } & ListedItem;

/**
 * What a caller may see of one server's listing; same shape as Gate.visibleTools, so the gate's
 * visibleResources / visibleResourceTemplates / visiblePrompts plug in as they are.
 */
export type ListingFilter<T> = (server: string, items: readonly T[], caller: CallerIdentity) => T[];

export interface ListingFilters {
  resources: ListingFilter<ListedResource>;
  resourceTemplates: ListingFilter<ListedResourceTemplate>;
  prompts: ListingFilter<ListedPrompt>;
}

export const showEverything = <T>(_server: string, items: readonly T[]): T[] => [...items];

/** Filters seen from here: the listing's identifying field has been checked to be a string. */
type AnyFilter = ListingFilter<ListedItem>;

export const listings = {
  'resources/list': { key: 'resources', field: 'uri', filter: 'resources', capability: 'resources' },
  'resources/templates/list': { key: 'resourceTemplates', field: 'uriTemplate', filter: 'resourceTemplates', capability: 'resources' },
  'prompts/list': { key: 'prompts', field: 'name', filter: 'prompts', capability: 'prompts' },
} as const satisfies Record<string, { key: string; field: string; filter: keyof ListingFilters; capability: string }>;

/** The filter a listing method is shown through. */
export function filterOf(filters: ListingFilters, method: ListingMethod): AnyFilter {
  return filters[listings[method].filter] as unknown as AnyFilter;
}

export type ListingMethod = keyof typeof listings;

export const isListingMethod = (m: string): m is ListingMethod => Object.hasOwn(listings, m);

/** Whether a server said in its initialize result that it has a capability. */
export function hasCapability(u: Upstream, capability: string): boolean {
  const caps = u.session.initializeResult?.capabilities;
  return isObject(caps) && isObject(caps[capability]);
}

/** One page of a listing, items filtered, every other field (nextCursor, _meta) as the server sent it. */
export async function listPage(u: Upstream, method: ListingMethod, params: Record<string, unknown>, filter: AnyFilter, caller: CallerIdentity, signal: AbortSignal): Promise<Record<string, unknown>> {
  const { key, field } = listings[method];
  const page = await u.session.call(method, params, signal);
  if (!isObject(page) || !Array.isArray(page[key])) throw new Error(`upstream server "${u.session.name}" answered ${method} without a ${key} array`);
  // An item without its identifying field cannot be judged by a filter, so it is not shown.
  const items = (page[key] as unknown[]).filter((i): i is ListedItem => isObject(i) && typeof i[field] === 'string' && i[field] !== '');
  return { ...page, [key]: filter(u.session.name, items, caller) };
}

/** Every page of one server's listing, filtered. */
async function listAll(u: Upstream, method: ListingMethod, filter: AnyFilter, caller: CallerIdentity, signal: AbortSignal): Promise<ListedItem[]> {
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
export async function mergedListing(session: ProxySession, method: ListingMethod, filter: AnyFilter, separator: string, caller: CallerIdentity, signal: AbortSignal): Promise<MergedListing> {
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
export type ResourceOwner = { server: string } | { error: string };

export async function resourceOwner(session: ProxySession, uri: string, filters: ListingFilters, separator: string, caller: CallerIdentity, signal: AbortSignal): Promise<ResourceOwner> {
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
  await mergedListing(session, 'resources/list', filterOf(filters, 'resources/list'), separator, caller, signal);
  await mergedListing(session, 'resources/templates/list', filterOf(filters, 'resources/templates/list'), separator, caller, signal);
  return find() ?? { error: `unknown resource ${JSON.stringify(uri)}: no server behind this endpoint lists it or a template matching it` };
}
