// The refresh rules of the authorizer's tool catalog, with a lister that counts its fetches and a
// clock the test moves: a list is fetched once and shared, refetched when old, at once after
// list_changed, on a miss at most once per interval, and kept when a refetch fails.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CatalogTool } from '../gate/catalog.ts';
import { PolicyRouter } from '../gate/policy-router.ts';
import type { GatewayConfig } from '../gate/types.ts';
import type { ListerFactory } from './mcp-lister.ts';
import { UpstreamToolCatalog } from './upstream-catalog.ts';

const log = pino({ level: 'silent' });

function routerWith(servers: Array<{ name: string; url: string }>): PolicyRouter {
  const router = new PolicyRouter();
  router.update('ns/p', { gateway: { policy: { namespace: 'ns', name: 'p' }, servers } as GatewayConfig });
  return router;
}

/** A lister per server URL whose list the test sets; counts fetches and closes, and can fail. */
function fakeUpstreams() {
  const lists = new Map<string, CatalogTool[] | Error>();
  const fetches: string[] = [];
  const closed: string[] = [];
  const changed = new Map<string, () => void>();
  const lister: ListerFactory = (server, _policy, onChanged) => {
    changed.set(server.url, onChanged);
    return {
      async list() {
        fetches.push(server.url);
        const l = lists.get(server.url);
        if (l instanceof Error) throw l;
        return l ?? [];
      },
      async close() {
        closed.push(server.url);
      },
    };
  };
  return { lists, fetches, closed, changed, lister };
}

describe('UpstreamToolCatalog', () => {
  it('fetches once for concurrent lookups and answers exact names only', async () => {
    const up = fakeUpstreams();
    up.lists.set('http://a/mcp', [{ name: 'read', annotations: { readOnlyHint: true } }, { name: 'twice' }, { name: 'twice' }]);
    const catalog = new UpstreamToolCatalog({ router: routerWith([{ name: 'a', url: 'http://a/mcp' }]), lister: up.lister, log, now: () => 0 });
    const [one, two] = await Promise.all([catalog.lookup('a', 'read'), catalog.lookup('a', 'read')]);
    expect(one).toEqual({ kind: 'listed', tool: { name: 'read', annotations: { readOnlyHint: true } } });
    expect(two).toEqual(one);
    expect(up.fetches).toEqual(['http://a/mcp']);
    expect(await catalog.lookup('a', 'twice')).toEqual({ kind: 'duplicate' });
    expect(await catalog.lookup('a', 'Read')).toEqual({ kind: 'unlisted' });
    expect(await catalog.lookup('a', 'read ')).toEqual({ kind: 'unlisted' });
    expect(await catalog.lookup('nope', 'read')).toMatchObject({ kind: 'unavailable' });
    expect(up.fetches).toHaveLength(1);
  });

  it('refetches on a miss at most once per interval, at once after list_changed, and in the background when old', async () => {
    const up = fakeUpstreams();
    up.lists.set('http://a/mcp', [{ name: 'read' }]);
    let now = 0;
    const catalog = new UpstreamToolCatalog({ router: routerWith([{ name: 'a', url: 'http://a/mcp' }]), lister: up.lister, log, now: () => now, missRefreshMs: 10_000, refreshMs: 60_000 });
    await catalog.lookup('a', 'read');
    up.lists.set('http://a/mcp', [{ name: 'read' }, { name: 'new' }]);
    // Right after a fetch a miss is answered from the list: a client spraying names fetches nothing.
    for (let i = 0; i < 5; i++) expect(await catalog.lookup('a', `made-up-${i}`)).toEqual({ kind: 'unlisted' });
    expect(await catalog.lookup('a', 'new')).toEqual({ kind: 'unlisted' });
    expect(up.fetches).toHaveLength(1);
    now = 10_000;
    expect(await catalog.lookup('a', 'new')).toMatchObject({ kind: 'listed' });
    expect(up.fetches).toHaveLength(2);

    up.lists.set('http://a/mcp', [{ name: 'read' }, { name: 'new' }, { name: 'newer' }]);
    up.changed.get('http://a/mcp')!();
    expect(await catalog.lookup('a', 'newer')).toMatchObject({ kind: 'listed' });
    expect(up.fetches).toHaveLength(3);

    now += 60_000;
    await catalog.lookup('a', 'read');
    await new Promise((r) => setImmediate(r));
    expect(up.fetches).toHaveLength(4);
  });

  it('keeps the last good list when a refetch fails, and says why when there never was one', async () => {
    const up = fakeUpstreams();
    up.lists.set('http://a/mcp', [{ name: 'read' }]);
    up.lists.set('http://b/mcp', new Error('connect ECONNREFUSED'));
    const catalog = new UpstreamToolCatalog({ router: routerWith([{ name: 'a', url: 'http://a/mcp' }, { name: 'b', url: 'http://b/mcp' }]), lister: up.lister, log, now: () => 0 });
    await catalog.lookup('a', 'read');
    up.lists.set('http://a/mcp', new Error('HTTP 500'));
    up.changed.get('http://a/mcp')!();
    expect(await catalog.lookup('a', 'read')).toMatchObject({ kind: 'listed' });
    expect(await catalog.lookup('b', 'x')).toEqual({ kind: 'unavailable', reason: 'tools/list of server "b" failed: connect ECONNREFUSED' });
  });

  it('warms newly governed servers, and drops the session of a server whose URL changed or that left', async () => {
    const up = fakeUpstreams();
    const router = routerWith([{ name: 'a', url: 'http://a/mcp' }, { name: 'b', url: 'http://b/mcp' }]);
    const catalog = new UpstreamToolCatalog({ router, lister: up.lister, log });
    catalog.warm();
    await new Promise((r) => setImmediate(r));
    expect(up.fetches.sort()).toEqual(['http://a/mcp', 'http://b/mcp']);
    router.update('ns/p', { gateway: { policy: { namespace: 'ns', name: 'p' }, servers: [{ name: 'a', url: 'http://a2/mcp' }] } as GatewayConfig });
    catalog.warm();
    await new Promise((r) => setImmediate(r));
    expect(up.closed.sort()).toEqual(['http://a/mcp', 'http://b/mcp']);
    expect(up.fetches).toContain('http://a2/mcp');
    await catalog.close();
    expect(up.closed).toContain('http://a2/mcp');
  });
});
