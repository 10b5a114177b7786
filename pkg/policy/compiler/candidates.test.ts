// Candidate lists prune rules per tool; a wrong "false" or "true" would silently change
// decisions, so each tri-state outcome is pinned here. The decision-table test checks the
// end-to-end equivalence against unpruned evaluation.
import { describe, expect, it } from 'vitest';
import { candidatesFor, effectiveHints, knownToolView, ListInterner, ruleStatus, wildcardView } from './candidates.ts';
import { compilePolicy, compileRules, defaultPatterns } from './index.ts';
import type { ToolAccumulator } from './tools.ts';
import type { Policy } from '../../../api/v1alpha1/index.ts';
import { gmailProfile, policy, profiles } from '../../../test/support/compiler.ts';

const patterns = defaultPatterns();
const acc = (over: Partial<ToolAccumulator> = {}): ToolAccumulator => ({
  classified: true, annotations: {}, labels: new Set(), classifiers: [], sources: [], ...over,
});
const rule = (when: Policy['when'], match: 'all' | 'any' = 'all') => compileRules([{ name: 'r', priority: 1, when, match, action: 'deny' }])[0]!;
const view = (over: Partial<ToolAccumulator> = {}, tool = 'send') => knownToolView('gmail', tool, acc(over), patterns);

describe('effectiveHints', () => {
  it.each([
    [{ readOnlyHint: true, destructiveHint: true }, { readOnlyHint: true, destructiveHint: false }],
    [{ readOnlyHint: false, destructiveHint: true }, { readOnlyHint: false, destructiveHint: true }],
    [{ destructiveHint: true }, {}],
    [{ destructiveHint: false }, { destructiveHint: false }],
    [{ readOnlyHint: false }, { readOnlyHint: false }],
    [{ openWorldHint: false, secretHint: true }, { openWorldHint: false, secretHint: true }],
  ])('%j → %j', (hints, want) => {
    expect(effectiveHints(hints)).toEqual(want);
  });
});

describe('ruleStatus', () => {
  it.each<[string, Policy['when'], 'all' | 'any', Partial<ToolAccumulator>, boolean | undefined]>([
    ['empty when', {}, 'all', {}, true],
    ['known hint equal', { readOnlyHint: true }, 'all', { annotations: { readOnlyHint: true } }, true],
    ['known hint different', { readOnlyHint: true }, 'all', { annotations: { readOnlyHint: false } }, false],
    ['unknown hint', { openWorldHint: true }, 'all', {}, undefined],
    ['destructive masked by unknown readOnly', { destructiveHint: true }, 'all', { annotations: { destructiveHint: true } }, undefined],
    ['known verb in list', { verbs: ['create'] }, 'all', { verb: 'create' }, true],
    ['known verb not in list', { verbs: ['delete'] }, 'all', { verb: 'create' }, false],
    ['no static verb', { verbs: ['delete'] }, 'all', {}, undefined],
    ['static label', { labels: ['a:b'] }, 'all', { labels: new Set(['a:b']) }, true],
    ['label only a classifier can set', { labels: ['a:b'] }, 'all', { classifiers: [{ path: ['x'], op: 'present', value: true, labels: ['a:b'], source: 's' }] }, undefined],
    ['impossible label', { labels: ['a:b'] }, 'all', {}, false],
    ['one of two labels impossible', { labels: ['a:b', 'c:d'] }, 'all', { labels: new Set(['a:b']) }, false],
    ['any label certain', { labels: ['x:y', 'a:b'] }, 'any', { labels: new Set(['a:b']) }, true],
    ['any label impossible', { labels: ['x:y'] }, 'any', {}, false],
    ['server in list', { servers: ['gmail'] }, 'all', {}, true],
    ['server not in list', { servers: ['github'] }, 'all', {}, false],
    ['tool glob matches', { tools: ['se*'] }, 'all', {}, true],
    ['tool glob misses', { tools: ['x*'] }, 'all', {}, false],
    ['tool glob undecidable', { tools: ['x*', '[s]end'] }, 'all', {}, undefined],
    ['roles are per call', { roles: ['sre'] }, 'all', {}, undefined],
    ['all: one false decides', { servers: ['gmail'], verbs: ['delete'] }, 'all', { verb: 'create' }, false],
    ['all: maybe and true', { servers: ['gmail'], roles: ['sre'] }, 'all', {}, undefined],
    ['any: one true decides', { servers: ['gmail'], roles: ['sre'] }, 'any', {}, true],
    ['any: all false', { servers: ['github'], verbs: ['delete'] }, 'any', { verb: 'create' }, false],
    ['any: false and maybe', { servers: ['github'], roles: ['sre'] }, 'any', {}, undefined],
  ])('%s', (_name, when, match, tool, want) => {
    expect(ruleStatus(rule(when, match), view(tool))).toBe(want);
  });

  it('treats an unclassified tool as knowing nothing but its name, server and possible labels', () => {
    const v = view({ classified: false, annotations: { readOnlyHint: true }, verb: 'get', labels: new Set(['a:b']) });
    expect(ruleStatus(rule({ readOnlyHint: true }), v)).toBeUndefined();
    expect(ruleStatus(rule({ verbs: ['get'] }), v)).toBeUndefined();
    expect(ruleStatus(rule({ labels: ['category:exec'] }), v)).toBeUndefined();
    expect(ruleStatus(rule({ labels: ['a:b'] }), v)).toBe(false);
  });

  it('decides nothing about the tool name for the wildcard view', () => {
    const w = wildcardView('gmail', patterns);
    expect(ruleStatus(rule({ tools: ['x*'] }), w)).toBeUndefined();
    expect(ruleStatus(rule({ servers: ['github'] }), w)).toBe(false);
    expect(ruleStatus(rule({ labels: ['category:communication'] }), w)).toBeUndefined();
    expect(ruleStatus(rule({ labels: ['scope:external'] }), w)).toBe(false);
  });
});

describe('candidatesFor', () => {
  it('skips rules that cannot match and stops after one that always does', () => {
    const rules = compileRules([
      { name: 'never', priority: 0, when: { servers: ['github'] }, action: 'deny' },
      { name: 'maybe', priority: 1, when: { roles: ['sre'] }, action: 'allow' },
      { name: 'always', priority: 2, when: { readOnlyHint: true }, action: 'allow' },
      { name: 'unreachable', priority: 3, when: {}, action: 'deny' },
    ]);
    expect(candidatesFor(rules, view({ annotations: { readOnlyHint: true } }))).toEqual([1, 2]);
    expect(candidatesFor(rules, view({ annotations: { readOnlyHint: false } }))).toEqual([1, 3]);
  });

  it('shares identical lists', () => {
    const interner = new ListInterner();
    expect(interner.intern([1, 2])).toBe(0);
    expect(interner.intern([3])).toBe(1);
    expect(interner.intern([1, 2])).toBe(0);
    expect(interner.lists).toEqual([[1, 2], [3]]);
  });

  it('gives each tool and each server wildcard a list in the compiled document', () => {
    const doc = compilePolicy(policy({
      tenant: { company_domain: 'acme.com' },
      profiles: [{ name: 'gmail' }],
      policies: [
        { name: 'external', priority: 10, when: { labels: ['scope:external'] }, action: 'deny' },
        { name: 'destructive', priority: 20, when: { destructiveHint: true }, action: 'deny' },
        { name: 'read', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
      ],
    }), profiles(gmailProfile)).data!.toolgate.compiled;
    const list = (server: string, tool?: string) => {
      const s = doc.servers[server]!;
      return doc.candidateLists[tool === undefined ? s.wildcard : s.tools[tool]!.candidates]!.map((i) => doc.policies[i]!.name);
    };
    expect(list('gmail', 'send_email')).toEqual(['external']);
    expect(list('gmail', 'read_email')).toEqual(['read']);
    expect(list('gmail', 'delete_email')).toEqual(['destructive', 'read']);
    expect(list('gmail')).toEqual(['destructive', 'read']);
    expect(list('github')).toEqual(['destructive', 'read']);
    expect(new Set(doc.candidateLists.map((l) => l.join()))).toHaveProperty('size', doc.candidateLists.length);
  });
});
