// Seeded random policies for the compiler's golden digests (golden.test.ts): every spec field the
// compiler reads, every rule condition in both match modes, every glob shape (exact, prefix,
// suffix, infix, classes, alternatives), tools only a classifier or an override names, and
// rules of other kinds. The same seed gives the same policy, so a digest recorded with one
// version of the compiler pins the output of the next. Test material only.
import type { McpProfile, McpSecurityPolicy, Policy } from '../../../../api/v1alpha1/index.ts';
import { rng as seeded, type Rng } from '../../../../test/support/prng.ts';
import { checkReferences } from '../validate.ts';
import { hintNames } from '../types.ts';

export interface RandomPolicyOptions {
  seed: number;
  servers: number;
  toolsPerServer: number;
  rules: number;
}

const families = ['get', 'list', 'search', 'create', 'update', 'delete', 'send', 'run', 'sync', 'purge'];
const nouns = ['file', 'issue', 'mail', 'user', 'order', 'cache', 'deployment', 'note'];
const verbs = ['get', 'list', 'create', 'update', 'delete'] as const;
const labels = ['category:mail', 'data:pii', 'scope:external', 'scope:internal', 'category:exec', 'risk:poisoning', 'finance:large', 'audience:bulk'];
const roleNames = ['editor', 'contractor', 'sre', 'support', 'auditor'];

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const some = <T>(r: Rng, xs: readonly T[], max: number): T[] => [...new Set(Array.from({ length: 1 + Math.floor(r() * max) }, () => pick(r, xs)))];
const chance = (r: Rng, p: number) => r() < p;

/** Tool names in the spellings servers use: snake, kebab, camel. */
function toolName(r: Rng, i: number): string {
  const f = families[i % families.length]!;
  const n = nouns[Math.floor(i / families.length) % nouns.length]!;
  const k = Math.floor(i / (families.length * nouns.length));
  const base = pick(r, [`${f}_${n}`, `${f}-${n}`, `${f}${n[0]!.toUpperCase()}${n.slice(1)}`]);
  return k === 0 ? base : `${base}_${k}`;
}

function toolGlob(r: Rng, names: readonly string[]): string {
  const n = pick(r, names);
  switch (Math.floor(r() * 8)) {
    case 0: case 1: return n;
    case 2: return `${n.slice(0, 1 + Math.floor(r() * 4))}*`;
    case 3: return `*${n.slice(-1 - Math.floor(r() * 4))}`;
    case 4: return `*${pick(r, nouns)}*`;
    case 5: return `${n.slice(0, 2)}?${n.slice(3)}`;
    case 6: return `[gs]e*_${pick(r, nouns)}`;
    default: return `{${pick(r, families)},${pick(r, families)}}_*`;
  }
}

function randomRule(r: Rng, i: number, servers: readonly string[], toolNames: readonly string[]): Policy {
  const action = pick(r, ['allow', 'deny', 'require_approval'] as const);
  const when: Policy['when'] = {};
  for (const h of hintNames) if (chance(r, 0.12)) when[h] = chance(r, 0.5);
  if (chance(r, 0.25)) when.verbs = some(r, verbs, 2);
  if (chance(r, 0.3)) when.labels = some(r, labels, 2);
  if (chance(r, 0.5)) when.servers = some(r, servers, 2);
  if (chance(r, 0.45)) when.roles = some(r, roleNames, 2);
  if (chance(r, 0.55)) when.tools = Array.from({ length: 1 + Math.floor(r() * 3) }, () => toolGlob(r, toolNames));
  if (chance(r, 0.08)) when.resources = [pick(r, ['file:///docs/*', 'https://*.example.com/*', 'db://orders'])];
  if (chance(r, 0.08)) when.prompts = [pick(r, ['review_*', 'summarize', '*_draft'])];
  if (chance(r, 0.1)) when.kinds = some(r, ['tool', 'resource', 'prompt', 'logging'] as const, 2);
  if (chance(r, 0.05)) when.labels = [];
  // A rule that always matches ends every candidate list; one in a while is enough.
  if (Object.keys(when).length === 0 && chance(r, 0.7)) when.tools = [toolGlob(r, toolNames)];
  const rule: Policy = { name: `rule ${i}`, priority: i * 3 + Math.floor(r() * 3), when, action };
  if (chance(r, 0.3)) rule.match = chance(r, 0.4) ? 'any' : 'all';
  if (action === 'require_approval') {
    rule.approvers = some(r, ['admin', 'privacy', 'finance', 'leads'], 2);
    if (chance(r, 0.3)) rule.quorum = 1 + Math.floor(r() * 2);
    if (chance(r, 0.3)) rule.timeout = pick(r, ['10m', '2h']);
  }
  return rule;
}

function profileFor(r: Rng, server: string, names: readonly string[]): McpProfile {
  const tools: McpProfile['spec']['tools'] = names.map((name) => {
    const t: McpProfile['spec']['tools'][number] = { name };
    for (const h of hintNames) if (chance(r, 0.3)) t[h] = chance(r, 0.5);
    if (chance(r, 0.6)) t.verb = pick(r, verbs);
    if (chance(r, 0.5)) t.labels = some(r, labels, 2);
    if (chance(r, 0.1)) t.scopes = some(r, ['repo', 'mail.send', 'admin'], 2);
    if (chance(r, 0.15)) t.classify = [{ field: 'to', notContains: '@{domain}', setLabels: some(r, labels, 2) }];
    return t;
  });
  return { apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name: `profile-${server}` }, spec: { service: server, version: '1.0.0', tools } };
}

export function randomPolicy(opts: RandomPolicyOptions): { policy: McpSecurityPolicy; profiles: Map<string, McpProfile> } {
  const r = seeded(opts.seed);
  const servers = Array.from({ length: opts.servers }, (_, i) => `srv-${i}`);
  const names = Array.from({ length: opts.toolsPerServer }, (_, i) => toolName(r, i));
  const profiles = new Map<string, McpProfile>();
  const described = servers.filter(() => chance(r, 0.8));
  for (const s of described) profiles.set(`profile-${s}`, profileFor(r, s, names.filter(() => chance(r, 0.85))));
  const extraNames = [...names, 'exec_shell', 'dropTable', 'fetch-url'];
  let rules = Array.from({ length: opts.rules }, (_, i) => randomRule(r, i, servers, extraNames));
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpSecurityPolicy',
    metadata: { name: `random-${opts.seed}`, namespace: 'golden' },
    spec: {
      defaultAction: pick(r, ['deny', 'allow'] as const),
      ...(chance(r, 0.3) ? { enforcement: 'dryrun' as const } : {}),
      tenant: { domain: 'acme.com' },
      servers: servers.map((name) => ({ name, url: `http://${name}:8080/mcp` })),
      profiles: described.map((s) => ({ name: `profile-${s}` })),
      toolOverrides: Array.from({ length: Math.floor(opts.toolsPerServer / 4) }, (_, i) => ({
        server: pick(r, servers), tool: `${pick(r, extraNames)}${i % 3 === 0 ? `_o${i}` : ''}`, readOnlyHint: chance(r, 0.5), labels: some(r, labels, 1),
        ...(chance(r, 0.5) ? { verb: pick(r, verbs) } : {}),
      })).filter((o, i, all) => all.findIndex((x) => x.server === o.server && x.tool === o.tool) === i),
      classifiers: Array.from({ length: Math.floor(opts.toolsPerServer / 5) }, (_, i) => ({
        server: pick(r, servers), tool: `unlisted_${i % 4}`, field: 'body', matches: 'secret-[0-9]+', setLabels: some(r, labels, 2),
      })),
      resourceOverrides: [{ server: servers[0]!, uri: 'file:///docs/*', labels: ['data:pii'], verb: 'get' }],
      promptOverrides: [{ server: servers[servers.length - 1]!, prompt: 'review_*', labels: ['category:mail'] }],
      identity: {
        issuer: 'https://idp.example', audience: 'https://gate.example',
        roles: roleNames.map((name, i) => ({ name, claimValues: [name], ...(i === 3 ? { tools: [`${servers[0]}/get*`, `${servers[0]}/*_file`] } : {}) })),
      },
      toolPinning: { onChange: 'RequireApproval', approvers: ['security'] },
      session: {
        limits: [{ name: 'burst', when: { tools: ['send*'] }, max: 5, window: '10s', action: 'deny' }],
        flows: [{ name: 'pii-out', from: ['data:pii'], to: { openWorldHint: true }, action: 'require_approval', approvers: ['privacy'] }],
      },
      policies: rules,
    },
  };
  // Drop the rules validation refuses (impossible kind combinations and the like), so the whole
  // policy compiles; which ones go is as deterministic as the rest.
  const refused = new Set(checkReferences(policy, profiles).map((p) => /^spec\.policies\[(\d+)\]/.exec(p.field)?.[1]).filter((x) => x !== undefined).map(Number));
  rules = rules.filter((_, i) => !refused.has(i));
  policy.spec.policies = rules;
  return { policy, profiles };
}
