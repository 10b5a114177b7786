// The strategy document's own examples (§4.4 mcp-security.yaml, §4.5 gmail pack), copied
// verbatim into testdata/, import unchanged, round-trip through export, and — compiled by the
// real compiler and evaluated by the real policy.wasm — decide as the document says.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { McpProfile } from '../../api/v1alpha1/index.ts';
import { compilePolicy } from '../policy/compiler/index.ts';
import { PolicyEngine } from '../policy/engine/engine.ts';
import { ensurePolicyWasm } from '../policy/engine/policy-wasm.ts';
import type { PolicyInput } from '../policy/engine/types.ts';
import { exportPack, exportSecurityFile } from './export.ts';
import { importPack, importSecurityFile, kindOf } from './import.ts';
import { SecurityFileError } from './located.ts';

const testdata = (f: string) => readFileSync(fileURLToPath(new URL(`testdata/${f}`, import.meta.url)), 'utf8');
const shipped = (name: string) => parse(readFileSync(fileURLToPath(new URL(`../../profiles/${name}.yaml`, import.meta.url)), 'utf8')) as McpProfile;
const securityFile = testdata('strategy-4.4-mcp-security.yaml');
const pack = testdata('strategy-4.5-gmail-pack.yaml');
const servers = { gmail: 'http://gmail.mcp:8080/mcp', github: 'http://github.mcp:8080/mcp', stripe: 'http://stripe.mcp:8080/mcp', 'custom-internal-tool': 'http://internal.mcp:8080/mcp' };
const importDoc = () => importSecurityFile(securityFile, { name: 'acme', namespace: 'team-a', servers });

function problemsOf(f: () => unknown): Array<{ field: string; line: number; message: string }> {
  try {
    f();
  } catch (e) {
    if (e instanceof SecurityFileError) return e.problems;
    throw e;
  }
  throw new Error('expected a SecurityFileError');
}

describe('the strategy document §4.4 mcp-security.yaml', () => {
  it('imports as is, every key mapped', () => {
    expect(kindOf(securityFile)).toBe('security-file');
    const p = importDoc();
    expect(p.spec.tenant).toEqual({ company_domain: 'acme.com', github_org: 'acme-corp' });
    expect(p.spec.profiles).toEqual([{ name: 'gmail' }, { name: 'github' }, { name: 'stripe' }]);
    expect(p.spec.toolOverrides).toContainEqual({ server: 'github', tool: 'merge_pull_request', destructiveHint: true, verb: 'update', labels: ['category:code'] });
    expect(p.spec.toolOverrides).toContainEqual({ server: 'custom-internal-tool', tool: 'run_query', readOnlyHint: true, verb: 'list' });
    expect(p.spec.classifiers).toEqual([
      { server: 'gmail', tool: 'send_email', field: 'to', contains: '@acme.com', setLabels: ['scope:internal'] },
      { server: 'gmail', tool: 'send_email', field: 'to', notContains: '@acme.com', setLabels: ['scope:external'] },
    ]);
    expect(p.spec.policies.map((r) => r.name)).toEqual([
      'Block secrets in outbound messages', 'Approve external communication', 'Approve destructive operations',
      'Approve production changes', 'Allow read-only tools', 'Allow internal communication', 'Default allow',
    ]);
    expect(p.spec.policies[1]).toEqual({
      name: 'Approve external communication', when: { labels: ['scope:external'], verbs: ['create'] }, match: 'all',
      action: 'require_approval', approvers: ['manager'], timeout: '60m', priority: 10,
    });
    expect(p.spec.policies[6]).toEqual({ name: 'Default allow', when: {}, action: 'allow', priority: 999 });
    expect(p.spec.servers.map((s) => s.name).sort()).toEqual(Object.keys(servers).sort());
  });

  it('round-trips: import → export → import is identical', () => {
    const first = importDoc();
    const text = exportSecurityFile(first);
    expect(importSecurityFile(text, { name: 'acme', namespace: 'team-a' })).toEqual(first);
    // The exported file is the document's format: snake_case keys, @openclaw references, set_labels.
    expect(text).toContain('tool_overrides:');
    expect(text).toContain('@openclaw/security-gmail');
    expect(text).toContain('not_contains: "@acme.com"');
  });

  it('refuses to guess where servers are', () => {
    const problems = problemsOf(() => importSecurityFile(securityFile, { name: 'acme', servers: { gmail: servers.gmail } }));
    expect(problems.map((p) => p.message)).toEqual(expect.arrayContaining([
      expect.stringContaining('server "github" has no URL: pass --server github='),
      expect.stringContaining('server "custom-internal-tool" has no URL'),
    ]));
    // The line where the document's file first names the server (its tool_overrides entry).
    expect(problems.find((p) => p.message.includes('"custom-internal-tool"'))?.line).toBe(27);
  });
});

describe('the strategy document §4.5 community pack', () => {
  it('imports as is, named and versioned by its header', () => {
    expect(kindOf(pack)).toBe('pack');
    const profile = importPack(pack);
    expect(profile.metadata.name).toBe('gmail');
    expect(profile.spec.version).toBe('v1.0.0');
    expect(profile.spec.service).toBe('gmail');
    expect(profile.spec.tools.map((t) => t.name)).toEqual(['send_email', 'delete_email', 'batch_delete_emails', 'search_emails', 'read_email', 'draft_email']);
    expect(profile.spec.tools[0]).toEqual({
      name: 'send_email', readOnlyHint: false, destructiveHint: false, openWorldHint: true, verb: 'create', labels: ['category:communication'],
      classify: [
        { field: 'to', contains: '@{company_domain}', setLabels: ['scope:internal'] },
        { field: 'to', notContains: '@{company_domain}', setLabels: ['scope:external'] },
        { field: 'bcc', present: true, setLabels: ['data:bcc-used'] },
      ],
    });
  });

  it('round-trips through export', () => {
    const first = importPack(pack);
    const text = exportPack(first);
    expect(text.split('\n')[0]).toBe('# @openclaw/security-gmail v1.0.0');
    expect(importPack(text)).toEqual(first);
  });

  it('round-trips every shipped profile', () => {
    for (const name of ['gmail', 'github', 'slack', 'stripe', 'kubernetes', 'postgres', 'filesystem', 'everything', 'business-automation']) {
      const profile = shipped(name);
      const back = importPack(exportPack(profile));
      expect(back.spec, name).toEqual(profile.spec);
      expect(back.metadata.name).toBe(name);
    }
  });
});

describe('decisions of the imported documents (real compiler, real policy.wasm)', () => {
  const engine = new PolicyEngine();
  beforeAll(async () => {
    const policy = importDoc();
    // The document's own gmail pack stands for @openclaw/security-gmail; github and stripe are the shipped ones.
    const profiles = new Map<string, McpProfile>([['gmail', importPack(pack)], ['github', shipped('github')], ['stripe', shipped('stripe')]]);
    const compiled = compilePolicy(policy, profiles);
    expect(compiled.problems).toEqual([]);
    await engine.load(readFileSync(ensurePolicyWasm()), compiled.data, 'imported');
  }, 120_000);

  const call = (server: string, tool: string, args: Record<string, unknown> = {}): PolicyInput =>
    ({ server, tool, arguments: args, caller: { agent: 'agent-1', operator: 'alice', roles: [], scopes: [] } });

  // §4.4's rules, §6.2's table and Step 5's test ("send email to external address → approval
  // required → internal address → auto-allow").
  const table: Array<[string, PolicyInput, string, string, Partial<{ approvers: string[]; timeout: string }>?]> = [
    ['mail to an internal address is allowed', call('gmail', 'send_email', { to: 'bob@acme.com', body: 'hi' }), 'allow', 'Allow internal communication'],
    ['mail to an external address needs a manager for 60m', call('gmail', 'send_email', { to: 'eve@evil.example', body: 'hi' }), 'require_approval', 'Approve external communication', { approvers: ['manager'], timeout: '60m' }],
    ['an external draft needs a manager (the pack labels it external)', call('gmail', 'draft_email', { to: 'eve@evil.example' }), 'require_approval', 'Approve external communication'],
    ['deleting mail needs an admin', call('gmail', 'delete_email', { id: '1' }), 'require_approval', 'Approve destructive operations', { approvers: ['admin'], timeout: '60m' }],
    ['batch deletion needs an admin', call('gmail', 'batch_delete_emails', { ids: ['1'] }), 'require_approval', 'Approve destructive operations'],
    ['reading mail is read-only', call('gmail', 'read_email', { id: '1' }), 'allow', 'Allow read-only tools'],
    ['searching mail is read-only', call('gmail', 'search_emails', { query: 'x' }), 'allow', 'Allow read-only tools'],
    ['merging a PR (operator override: destructive) needs an admin', call('github', 'merge_pull_request', { owner: 'acme-corp', repo: 'x', pull_number: 1 }), 'require_approval', 'Approve destructive operations'],
    ['the internal tool overridden read-only is allowed', call('custom-internal-tool', 'run_query', { q: 'select 1' }), 'allow', 'Allow read-only tools'],
    ['a secret in an outbound issue is blocked', call('github', 'create_issue', { owner: 'acme-corp', repo: 'x', title: 't', body: 'key AKIAABCDEFGHIJKLMNOP' }), 'deny', 'Block secrets in outbound messages'],
    // MCP's defaults: a tool nobody classified is presumed destructive, so it is not waved through.
    ['an unclassified tool without annotations is presumed destructive', call('custom-internal-tool', 'frobnicate'), 'require_approval', 'Approve destructive operations'],
    ['a tool its server declares harmless falls to the catch-all rule', { ...call('custom-internal-tool', 'frobnicate'), annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false } }, 'allow', 'Default allow'],
  ];
  it.each(table)('%s', (_name, input, action, rule, extra) => {
    const d = engine.evaluate(input);
    expect({ action: d.action, rule: d.rule }).toEqual({ action, rule });
    if (extra?.approvers) expect(d.approvers).toEqual(extra.approvers);
    if (extra?.timeout) expect(d.timeout).toBe(extra.timeout);
  });
});

describe('what import refuses, with field and line', () => {
  const base = 'version: "1.0"\npolicies:\n  - {name: a, when: {}, action: allow, priority: 1}\n';

  it('an unknown key, with a suggestion for the other spelling', () => {
    const problems = problemsOf(() => importSecurityFile(`${base}toolOverrides: {}\n`, { name: 'x' }));
    expect(problems).toEqual([{ field: 'toolOverrides', line: 4, message: expect.stringContaining('unknown key "toolOverrides" (did you mean "tool_overrides"?)') }]);
  });

  it('a key written twice', () => {
    const problems = problemsOf(() => importSecurityFile(`${base}tenant:\n  a: x\n  a: y\n`, { name: 'x' }));
    expect(problems[0]?.message).toMatch(/written twice/);
    expect(problems[0]?.line).toBe(6);
  });

  it('a classifier with a misspelt condition, none, or two', () => {
    const file = `${base}servers: {gmail: "http://g"}\nclassifiers:\n  gmail:\n    send_email:\n      - {field: to, not_contain: x, set_labels: [scope:external]}\n      - {field: to, set_labels: [scope:external]}\n      - {field: to, contains: a, matches: b, set_labels: [scope:external]}\n`;
    const problems = problemsOf(() => importSecurityFile(file, { name: 'x' }));
    expect(problems).toEqual(expect.arrayContaining([
      { field: 'classifiers.gmail.send_email[0].not_contain', line: 8, message: expect.stringContaining('unknown key "not_contain"') },
      { field: 'classifiers.gmail.send_email[1]', line: 9, message: expect.stringContaining('this one has none') },
      { field: 'classifiers.gmail.send_email[2]', line: 10, message: expect.stringContaining('this one has contains, matches') },
    ]));
  });

  it('bad values: a duration, a verb, a label, a hint that is text, approvers on allow', () => {
    const file = 'version: "1.0"\npolicies:\n  - name: a\n    when: {verb: remove, labels: [External], readOnlyHint: "yes"}\n    action: allow\n    approvers: [x]\n    timeout: 1 hour\n    priority: 1\n';
    const problems = problemsOf(() => importSecurityFile(file, { name: 'x' }));
    expect(problems.map((p) => [p.field, p.line])).toEqual(expect.arrayContaining([
      ['policies[0].when.verb', 4], ['policies[0].when.labels[0]', 4], ['policies[0].when.readOnlyHint', 4], ['policies[0].timeout', 7], ['policies[0].approvers', 3],
    ]));
  });

  it('profile references outside the community scope or not shipped', () => {
    const file = `${base}profiles: ["@0penclaw/security-gmail", "@openclaw/security-outlook", "Not A Name"]\n`;
    const problems = problemsOf(() => importSecurityFile(file, { name: 'x' }));
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringContaining('unknown profile scope "@0penclaw"'),
      expect.stringContaining('"@openclaw/security-outlook" is not a shipped community profile'),
      expect.stringContaining('is neither @openclaw/security-<name> nor an McpProfile name'),
    ]);
  });

  it('an unsupported version, and a missing one', () => {
    expect(problemsOf(() => importSecurityFile(base.replace('"1.0"', '"2.0"'), { name: 'x' }))[0]?.message).toContain('version "2.0" is not supported');
    expect(problemsOf(() => importSecurityFile(base.replace('version: "1.0"\n', ''), { name: 'x' }))[0]?.message).toContain('version is required');
  });

  it('a pack without a version, or with one contradicting its header', () => {
    expect(problemsOf(() => importPack('service: x\ntools: {a: {verb: get}}\n'))[0]?.message).toContain('the pack has no version');
    expect(problemsOf(() => importPack('# @openclaw/security-gmail v1.0.0\nservice: gmail\nversion: 2.0.0\ntools: {}\n'))[0]?.message).toContain('contradicts the header');
  });

  it('export refuses fields the file format cannot carry', () => {
    const p = importDoc();
    p.spec.identity = { issuer: 'https://idp', audience: 'https://gw' };
    expect(() => exportSecurityFile(p)).toThrow(/cannot carry spec\.identity/);
  });
});
