import { describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { canonicalJson, compilePolicy, compileRules, schemaVersion, type CompiledDocument } from './index.ts';
import { gmailProfile, policy, profile, profiles } from '../../../test/support/compiler.ts';

const tenant = { company_domain: 'acme.com', github_org: 'acme-corp' };

function compiled(p: McpSecurityPolicy, ps = profiles(gmailProfile)): CompiledDocument {
  const r = compilePolicy(p, ps);
  expect(r.problems).toEqual([]);
  return r.data!.toolgate.compiled;
}

const rich = () => policy({
  tenant,
  profiles: [{ name: 'gmail' }],
  toolOverrides: [
    { server: 'github', tool: 'merge_pull_request', destructiveHint: true, verb: 'update', labels: ['category:code'] },
    { server: 'gmail', tool: 'send_email', labels: ['data:pii'], scopes: ['mail.send'] },
  ],
  classifiers: [
    { server: 'gmail', tool: 'send_email', field: 'bcc', present: true, setLabels: ['data:bcc-used'] },
    { server: 'github', tool: 'create_issue', field: 'body', matches: 'AKIA[0-9A-Z]{16}', setLabels: ['data:secret'] },
  ],
  policies: [
    { name: 'allow-read', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
    { name: 'approve-external', priority: 10, when: { verbs: ['create'], labels: ['scope:external', 'category:communication'] }, action: 'require_approval', approvers: ['manager', 'lead'] },
    { name: 'deny-secrets', priority: 0, when: { openWorldHint: true, labels: ['data:secret'] }, action: 'deny' },
    { name: 'approve-destructive', priority: 20, when: { destructiveHint: true }, action: 'require_approval', approvers: ['admin'], quorum: 2, timeout: '1h' },
  ],
  identity: { issuer: 'i', audience: 'a', roles: [{ name: 'analyst', tools: ['gmail/read_*', 'github/get_*'] }, { name: 'admin' }] },
});

describe('compilePolicy', () => {
  it('writes the document at data.toolgate.compiled with policy identity and defaults', () => {
    const r = compilePolicy(policy(), profiles());
    expect(r.problems).toEqual([]);
    const doc = r.data!.toolgate.compiled;
    expect(doc.schemaVersion).toBe(schemaVersion);
    expect(doc.policy).toEqual({ namespace: 'ns', name: 'p' });
    expect(doc.enforcement).toBe('enforce');
    expect(doc.defaultAction).toBe('deny');
    expect(doc.patterns.map((p) => p.name)).toEqual(['delete', 'execute', 'irreversible', 'send', 'share', 'update', 'create', 'list', 'read']);
    expect(Object.keys(doc.servers)).toEqual(['github', 'gmail']);
  });

  it('merges profile, override and classifiers per tool', () => {
    const doc = compiled(rich());
    const send = doc.servers.gmail!.tools.send_email!;
    expect(send).toMatchObject({
      classified: true,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
      verb: 'create',
      labels: ['category:communication', 'data:pii'],
      scopes: ['mail.send'],
      sources: ['profile:gmail', 'override'],
    });
    expect(send.classifiers).toEqual([
      { path: ['to'], op: 'contains', value: '@acme.com', labels: ['scope:internal'], source: 'profile gmail tool send_email classify[0]' },
      { path: ['to'], op: 'notContains', value: '@acme.com', labels: ['scope:external'], source: 'profile gmail tool send_email classify[1]' },
      { path: ['bcc'], op: 'present', value: true, labels: ['data:bcc-used'], source: 'spec.classifiers[0]' },
    ]);
    // An override with only some hints keeps the profile's others.
    expect(doc.servers.github!.tools.merge_pull_request).toMatchObject({ classified: true, annotations: { destructiveHint: true }, verb: 'update', sources: ['override'] });
    // A tool known only through a classifier is not classified: the name pattern still applies.
    expect(doc.servers.github!.tools.create_issue).toMatchObject({ classified: false, annotations: {}, labels: [], sources: [] });
    expect(doc.servers.github!.tools.create_issue!.verb).toBeUndefined();
  });

  it('lets a later profile and then the override win field by field', () => {
    const base = profile('base', 'gmail', [{ name: 't', readOnlyHint: true, verb: 'get', labels: ['a:one'], scopes: ['s1'] }]);
    const later = profile('later', 'gmail', [{ name: 't', readOnlyHint: false, labels: ['a:two'] }]);
    const doc = compiled(policy({
      profiles: [{ name: 'base' }, { name: 'later' }],
      toolOverrides: [{ server: 'gmail', tool: 't', destructiveHint: false, scopes: [] }],
    }), profiles(base, later));
    expect(doc.servers.gmail!.tools.t).toMatchObject({
      annotations: { readOnlyHint: false, destructiveHint: false }, verb: 'get', labels: ['a:one', 'a:two'], scopes: [], sources: ['profile:base', 'profile:later', 'override'],
    });
  });

  it('applies a profile to the server its reference names', () => {
    const doc = compiled(policy({ profiles: [{ name: 'gmail', server: 'github' }], tenant }));
    expect(Object.keys(doc.servers.github!.tools)).toEqual(['delete_email', 'read_email', 'send_email']);
    expect(doc.servers.gmail!.tools).toEqual({});
  });

  it('quotes tenant values interpolated into regexes', () => {
    const doc = compiled(policy({ tenant, classifiers: [{ server: 'github', tool: 'x', field: 'repo', matches: '^{github_org}/', setLabels: ['scope:internal'] }] }));
    expect(doc.servers.github!.tools.x!.classifiers[0]!.value).toBe('^acme-corp/');
    const dotted = compiled(policy({ tenant, classifiers: [{ server: 'github', tool: 'x', field: 'to', notMatches: '@{company_domain}$', setLabels: ['scope:external'] }] }));
    expect(dotted.servers.github!.tools.x!.classifiers[0]!.value).toBe('@acme\\.com$');
  });

  it('compiles rules in priority order, ties by name, with flattened conditions', () => {
    const doc = compiled(rich());
    expect(doc.policies.map((p) => p.name)).toEqual(['deny-secrets', 'approve-external', 'approve-destructive', 'allow-read']);
    expect(doc.policies[0]).toEqual({ name: 'deny-secrets', priority: 0, action: 'deny', match: 'all', kinds: ['tool'], when: { openWorldHint: true, labelsAll: ['data:secret'] }, approvers: [], quorum: 0, timeout: '' });
    expect(doc.policies[1]).toMatchObject({ when: { verbs: ['create'], labelsAll: ['category:communication', 'scope:external'] }, approvers: ['lead', 'manager'], quorum: 1, timeout: '60m' });
    expect(doc.policies[2]).toMatchObject({ approvers: ['admin'], quorum: 2, timeout: '1h' });
  });

  it('turns labels of a match-any rule into labelsAny and drops empty lists', () => {
    const [rule] = compileRules([{ name: 'r', priority: 1, match: 'any', when: { secretHint: true, labels: ['data:pii'], tools: [], verbs: ['get', 'get'] }, action: 'deny' }]);
    expect(rule!.when).toEqual({ secretHint: true, labelsAny: ['data:pii'], verbs: ['get'] });
    const [globs] = compileRules([{ name: 'r', priority: 1, when: { tools: ['*_booking', 'send_email'] }, action: 'deny' }]);
    expect(globs!.when).toEqual({ tools: { exact: ['send_email'], suffix: ['_booking'] } });
    const [tie1, tie2] = compileRules([{ name: 'b', priority: 1, when: {}, action: 'deny' }, { name: 'a', priority: 1, when: {}, action: 'deny' }]);
    expect([tie1!.name, tie2!.name]).toEqual(['a', 'b']);
  });

  it('gives every rule its kinds: listed, else those its targets name, else tools only', () => {
    const rules = compileRules([
      { name: 'old', priority: 1, when: { readOnlyHint: true }, action: 'allow' },
      { name: 'empty', priority: 2, when: {}, action: 'deny' },
      { name: 'docs', priority: 3, when: { resources: ['file:///public/*', 'file:///public/*'] }, action: 'allow' },
      { name: 'mixed', priority: 4, match: 'any', when: { prompts: ['greet'], tools: ['x'] }, action: 'deny' },
      { name: 'listed', priority: 5, when: { kinds: ['logging', 'resource', 'logging'] }, action: 'allow' },
    ]);
    expect(rules.map((r) => [r.name, r.kinds])).toEqual([
      ['old', ['tool']], ['empty', ['tool']], ['docs', ['resource']], ['mixed', ['prompt', 'tool']], ['listed', ['logging', 'resource']],
    ]);
    expect(rules[2]!.when).toEqual({ resources: { prefix: ['file:///public/'] } });
    expect(rules[3]!.when).toEqual({ prompts: { exact: ['greet'] }, tools: { exact: ['x'] } });
  });

  it('leaves rules of other kinds out of every tool candidate list, so an empty resource rule cannot cut a tool list short', () => {
    const doc = compiled(policy({
      toolOverrides: [{ server: 'gmail', tool: 'send_email', verb: 'create' }],
      policies: [
        { name: 'all-resources', priority: 1, when: { kinds: ['resource'] }, action: 'allow' },
        { name: 'prompt-greet', priority: 2, when: { prompts: ['*'] }, action: 'allow' },
        { name: 'deny-send', priority: 3, when: { tools: ['send_*'] }, action: 'deny' },
      ],
    }), profiles());
    const lists = [doc.servers.gmail!.wildcard, doc.servers.gmail!.tools.send_email!.candidates].map((i) => doc.candidateLists[i]);
    expect(lists).toEqual([[2], [2]]);
  });

  it('compiles resource and prompt overrides per server, in order, and leaves them out when there are none', () => {
    const doc = compiled(policy({
      resourceOverrides: [
        { server: 'gmail', uri: 'mail://hr/*', labels: ['data:pii', 'data:pii'] },
        { server: 'gmail', uri: '*.csv', verb: 'list' },
      ],
      promptOverrides: [{ server: 'github', prompt: 'review_*', verb: 'get', labels: ['category:code'] }],
    }), profiles());
    expect(doc.servers.gmail!.resources).toEqual([{ match: { prefix: ['mail://hr/'] }, labels: ['data:pii'] }, { match: { suffix: ['.csv'] }, verb: 'list', labels: [] }]);
    expect(doc.servers.gmail!.prompts).toBeUndefined();
    expect(doc.servers.github!.prompts).toEqual([{ match: { prefix: ['review_'] }, verb: 'get', labels: ['category:code'] }]);
    expect(compiled(policy(), profiles()).servers.gmail).not.toHaveProperty('resources');
  });

  it('compiles role grants and unrestricted roles', () => {
    expect(compiled(rich()).roles).toEqual({ grants: { analyst: { prefix: ['github/get_', 'gmail/read_'] } }, resourceGrants: {}, promptGrants: {}, unrestricted: ['admin'] });
    expect(compiled(policy()).roles).toEqual({ grants: {}, resourceGrants: {}, promptGrants: {}, unrestricted: [] });
  });

  it('compiles resource and prompt grants; a role listing only those is restricted with no tool grant', () => {
    const p = rich();
    p.spec.identity!.roles = [...p.spec.identity!.roles!, { name: 'reader', resources: ['gmail/file:///public/*'], prompts: ['github/review_*', 'github/summary'] }];
    expect(compiled(p).roles).toEqual({
      grants: { analyst: { prefix: ['github/get_', 'gmail/read_'] }, reader: {} },
      resourceGrants: { reader: { prefix: ['gmail/file:///public/'] } },
      promptGrants: { reader: { exact: ['github/summary'], prefix: ['github/review_'] } },
      unrestricted: ['admin'],
    });
  });

  it('counts servers, tools, rules and classifiers', () => {
    expect(compilePolicy(rich(), profiles(gmailProfile)).counts).toEqual({ servers: 2, tools: 5, policies: 4, classifiers: 4 });
  });

  it('returns no data when there are problems', () => {
    const r = compilePolicy(policy({ profiles: [{ name: 'missing' }] }), profiles());
    expect(r.data).toBeUndefined();
    expect(r.problems).toEqual([{ field: 'spec.profiles[0].name', message: 'McpProfile "missing" not found' }]);
  });

  it('keeps tool names that collide with Object.prototype as plain keys', () => {
    const doc = compiled(policy({ toolOverrides: [{ server: 'gmail', tool: '__proto__', verb: 'get' }, { server: 'gmail', tool: 'constructor', verb: 'get' }] }), profiles());
    expect(canonicalJson(doc.servers.gmail!.tools)).toMatch(/^\{"__proto__":\{.*"verb":"get"\},"constructor":\{/);
    expect(Object.keys(doc.servers.gmail!.tools).sort()).toEqual(['__proto__', 'constructor']);
  });
});

describe('determinism', () => {
  const bytes = (p: McpSecurityPolicy, ps = profiles(gmailProfile)) => canonicalJson(compilePolicy(p, ps).data);

  it('compiles the same input to the same bytes', () => {
    expect(bytes(rich())).toBe(bytes(rich()));
  });

  it('does not depend on the order of maps and list-maps', () => {
    const a = rich();
    const b = rich();
    b.spec.tenant = { github_org: 'acme-corp', company_domain: 'acme.com' };
    b.spec.servers = [...b.spec.servers].reverse();
    b.spec.policies = [...b.spec.policies].reverse();
    b.spec.toolOverrides = [...b.spec.toolOverrides!].reverse();
    b.spec.identity!.roles = [...b.spec.identity!.roles!].reverse();
    b.spec.identity!.roles[1]!.tools = ['github/get_*', 'gmail/read_*'];
    b.spec.policies[2]!.approvers = ['lead', 'manager'];
    const reordered = structuredClone(gmailProfile);
    reordered.spec.tools.reverse();
    const other = profile('unused', 'gmail', []);
    expect(bytes(b, profiles(other, reordered))).toBe(bytes(a, profiles(gmailProfile)));
  });

  it('changes the bytes when the meaning changes', () => {
    const b = rich();
    b.spec.policies[0]!.priority = 51;
    expect(bytes(b)).not.toBe(bytes(rich()));
  });
});
