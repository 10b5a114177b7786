// CandidateIndex files rules under the servers and exact tool names that alone decide them, so
// that the compiler need not ask every rule about every tool. Filing a rule wrongly would drop
// it from a tool's list (a changed decision), so the index is held to candidatesFor, which asks
// every rule, on every view of seeded random policies, and its filing cases are pinned here.
import { describe, expect, it } from 'vitest';
import { CandidateIndex, candidatesFor, knownToolView, wildcardView, type StaticView } from './candidates.ts';
import { compileRules, defaultPatterns } from './index.ts';
import { buildToolTable } from './tools.ts';
import { randomPolicy } from './testdata/random-policy.ts';
import type { Policy } from '../../../api/v1alpha1/index.ts';

const patterns = defaultPatterns();
const known = (server: string, tool: string): StaticView => knownToolView(server, tool, { classified: true, annotations: {}, labels: new Set(), classifiers: [], sources: [] }, patterns);
const names = (rules: ReturnType<typeof compileRules>, list: number[]) => list.map((i) => rules[i]!.name);

describe('CandidateIndex', () => {
  const rules = compileRules([
    { name: 'github only', priority: 1, when: { servers: ['github'], roles: ['sre'] }, action: 'deny' },
    { name: 'exact tool', priority: 2, when: { tools: ['send_email', 'read_email'], roles: ['sre'] }, action: 'deny' },
    { name: 'server and exact tool', priority: 3, when: { servers: ['gmail'], tools: ['delete_email'], roles: ['sre'] }, action: 'deny' },
    { name: 'any: only a server', priority: 4, match: 'any', when: { servers: ['gitlab'] }, action: 'deny' },
    { name: 'any: server or role', priority: 5, match: 'any', when: { servers: ['gitlab'], roles: ['sre'] }, action: 'deny' },
    { name: 'prefix glob', priority: 6, when: { tools: ['send_*'], roles: ['sre'] }, action: 'deny' },
    { name: 'exact and prefix', priority: 7, when: { tools: ['x', 'del*'], roles: ['sre'] }, action: 'deny' },
    { name: 'resources only', priority: 8, when: { resources: ['file:///*'] }, action: 'deny' },
    { name: 'empty tool name', priority: 9, when: { tools: [''], roles: ['sre'] }, action: 'deny' },
    { name: 'always', priority: 10, when: {}, action: 'allow' },
  ] satisfies Policy[]);
  const index = new CandidateIndex(rules);

  it.each<[string, StaticView, string[]]>([
    ['a tool of another server skips server-scoped rules', known('gmail', 'send_email'), ['exact tool', 'any: server or role', 'prefix glob', 'always']],
    ['a tool of the named server keeps them', known('github', 'send_email'), ['github only', 'exact tool', 'any: server or role', 'prefix glob', 'always']],
    ['server and exact name together', known('gmail', 'delete_email'), ['server and exact tool', 'any: server or role', 'exact and prefix', 'always']],
    ['the exact name alone does not file under another server', known('github', 'delete_email'), ['github only', 'any: server or role', 'exact and prefix', 'always']],
    ['an empty tool name is a name like any other', known('gmail', ''), ['any: server or role', 'empty tool name', 'always']],
    ['match any with only a server condition is filed under it, and ends the list there', known('gitlab', 'send_email'), ['exact tool', 'any: only a server']],
    ['the wildcard view keeps every rule naming tools', wildcardView('gmail', patterns), ['exact tool', 'server and exact tool', 'any: server or role', 'prefix glob', 'exact and prefix', 'empty tool name', 'always']],
    ['the wildcard view of a named server keeps its rules', wildcardView('github', patterns), ['github only', 'exact tool', 'any: server or role', 'prefix glob', 'exact and prefix', 'empty tool name', 'always']],
  ])('%s', (_name, view, want) => {
    expect(names(rules, index.candidates(view))).toEqual(want);
    expect(index.candidates(view)).toEqual(candidatesFor(rules, view));
  });

  it('gives the same lists as asking every rule, on every view of seeded random policies', () => {
    let views = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const { policy, profiles } = randomPolicy({ seed, servers: 1 + (seed % 5), toolsPerServer: 10 + (seed % 40), rules: 20 + ((seed * 11) % 150) });
      const rules = compileRules(policy.spec.policies);
      const idx = new CandidateIndex(rules);
      const table = buildToolTable(policy.spec, profiles, []);
      for (const [server, tools] of table) {
        for (const view of [wildcardView(server, patterns), ...[...tools].map(([name, acc]) => knownToolView(server, name, acc, patterns)), known(server, 'never_listed')]) {
          expect(idx.candidates(view), `seed ${seed}, ${server}/${view.tool ?? '*'}`).toEqual(candidatesFor(rules, view));
          views++;
        }
      }
    }
    expect(views).toBeGreaterThan(1000);
  }, 60_000);
});
