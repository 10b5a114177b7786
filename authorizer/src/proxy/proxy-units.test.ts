// Pure parts of the proxy: Accept negotiation, tool-name prefixing and merging (SSE parsing: sse.test.ts).
import { describe, expect, it } from 'vitest';
import { mergeTools, prefixedName, splitName, validSeparator } from './catalog.ts';
import type { CallerIdentity } from '../gate/index.ts';
import { accepts, normalizeOrigin } from './http.ts';
import { showEverything, type ListingFilters } from './listings.ts';

describe('accepts', () => {
  it('honours exact types, wildcards and q=0', () => {
    expect(accepts('application/json, text/event-stream', 'text/event-stream')).toBe(true);
    expect(accepts('application/json', 'text/event-stream')).toBe(false);
    expect(accepts('*/*', 'text/event-stream')).toBe(true);
    expect(accepts('text/*;q=0.5', 'text/event-stream')).toBe(true);
    expect(accepts('text/event-stream;q=0, */*', 'application/json')).toBe(true);
    expect(accepts('text/event-stream;q=0', 'text/event-stream')).toBe(false);
    expect(accepts(undefined, 'application/json')).toBe(false);
  });

  it('normalizes origins for comparison', () => {
    expect(normalizeOrigin('HTTP://LocalHost:6274')).toBe('http://localhost:6274');
    expect(normalizeOrigin('https://a.example:443')).toBe('https://a.example');
  });
});

describe('tool names', () => {
  it('splits at the first separator, which no server name can contain', () => {
    expect(splitName(prefixedName('github', 'create__issue', '__'), '__')).toEqual({ server: 'github', tool: 'create__issue' });
    expect(splitName('noprefix', '__')).toBeUndefined();
    expect(splitName('__tool', '__')).toBeUndefined();
    expect(splitName('server__', '__')).toBeUndefined();
    expect(validSeparator('__')).toBe(true);
    expect(validSeparator('.')).toBe(true);
    expect(validSeparator('-')).toBe(false);
    expect(validSeparator('a')).toBe(false);
    expect(validSeparator('')).toBe(false);
  });

  it('merges per-server lists and withholds names that collide after prefixing', () => {
    const { tools, collisions } = mergeTools([
      { server: 'a', tools: [{ name: 'x', description: 'first' }, { name: 'y' }] },
      { server: 'b', tools: [{ name: 'x' }] },
      { server: 'a', tools: [{ name: 'x', description: 'again' }] },
    ], '__');
    expect(tools.map((t) => t.name)).toEqual(['a__y', 'b__x']);
    expect(collisions).toEqual(['a__x']);
  });
});

describe('listing filters', () => {
  it('take a filter shaped like Gate.visibleTools as it is', () => {
    const caller: CallerIdentity = { subject: 'alice', issuer: 'https://issuer.test', roles: [], scopes: [] };
    const visibleResources = <T extends { uri: string }>(_server: string, items: readonly T[], _caller: CallerIdentity): T[] => items.filter((r) => !r.uri.startsWith('secret:'));
    const filters: Pick<ListingFilters, 'resources'> = { resources: visibleResources };
    expect(filters.resources('notes', [{ uri: 'note://a' }, { uri: 'secret:b' }], caller)).toEqual([{ uri: 'note://a' }]);
    expect(showEverything('notes', [{ name: 'p' }])).toEqual([{ name: 'p' }]);
  });
});
