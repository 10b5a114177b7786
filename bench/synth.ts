// Synthetic but realistic benchmark material: one McpSecurityPolicy governing `servers` MCP
// servers, each described by its own McpProfile (so 50 × 200 = 10 000 tools), a rule set of any
// size, and a mixed, deterministic set of tools/call inputs. Shapes follow the decision-table
// fixtures (pkg/policy/engine/testdata): the strategy document's default rules plus
// per-team rules scoped to one server and a few tool globs, as a large organisation writes them.
import type { McpProfile, McpSecurityPolicy, Policy } from '../api/v1alpha1/index.ts';
import type { PolicyInput } from '../pkg/policy/engine/index.ts';
import { rng } from '../test/support/prng.ts';


export const serverKinds = ['crm', 'mail', 'chat', 'billing', 'tickets', 'storage', 'ads', 'booking', 'git', 'docs'] as const;
export const nouns = [
  'contact', 'invoice', 'ticket', 'booking', 'message', 'file', 'issue', 'order', 'customer', 'report', 'campaign', 'record', 'document',
  'event', 'task', 'deployment', 'user', 'payment', 'note', 'lead', 'account', 'comment', 'label', 'project', 'webhook',
] as const;
/** Tool-name prefix → what a profile author says about such tools. */
const families = {
  get: { readOnlyHint: true, verb: 'get' },
  list: { readOnlyHint: true, verb: 'list' },
  search: { readOnlyHint: true, verb: 'list' },
  create: { readOnlyHint: false, destructiveHint: false, verb: 'create' },
  update: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, verb: 'update' },
  delete: { readOnlyHint: false, destructiveHint: true, verb: 'delete' },
  send: { readOnlyHint: false, destructiveHint: false, openWorldHint: true, verb: 'create' },
  export: { readOnlyHint: true, openWorldHint: true, verb: 'get' },
} as const;
type Family = keyof typeof families;
const familyNames = Object.keys(families) as Family[];

export const serverName = (i: number) => `${serverKinds[i % serverKinds.length]}-${String(i).padStart(2, '0')}`;
const kindOf = (server: string) => server.replace(/-\d+$/, '');

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function profileTool(server: string, family: Family, noun: string): McpProfile['spec']['tools'][number] {
  const tool: McpProfile['spec']['tools'][number] = { name: `${family}_${noun}`, ...families[family], labels: [`category:${kindOf(server)}`] };
  if (noun === 'contact' || noun === 'customer' || noun === 'user' || noun === 'lead') tool.labels!.push('data:pii');
  if (family === 'send') {
    tool.labels!.push('category:communication');
    tool.classify = [
      { field: 'to', contains: '@{company_domain}', setLabels: ['scope:internal'] },
      { field: 'to', notContains: '@{company_domain}', setLabels: ['scope:external'] },
      { field: 'recipients', lengthGreaterThan: 50, setLabels: ['audience:bulk'] },
      { field: 'body', matches: '-----BEGIN [A-Z ]*PRIVATE KEY-----', setLabels: ['data:secret'] },
    ];
  }
  if (family === 'create' && (noun === 'invoice' || noun === 'payment' || noun === 'order')) {
    tool.labels!.push('category:financial');
    tool.classify = [{ field: 'lines[*].amount', greaterThan: 100000, setLabels: ['finance:large-amount'] }];
  }
  return tool;
}

/** McpProfile spec.tools holds at most this many (the CRD's maxItems). */
export const maxToolsPerServer = 2000;

/**
 * The first toolsPerServer tools of a server as [family, noun, name]: every family × noun once
 * (200), then again as `<family>_<noun>_v2`, `_v3`, … for the scale run's larger servers.
 */
function catalog(toolsPerServer: number): Array<readonly [Family, string, string]> {
  if (toolsPerServer > maxToolsPerServer) throw new Error(`at most ${maxToolsPerServer} tools per server`);
  const base = familyNames.flatMap((f) => nouns.map((n) => [f, n] as const));
  return Array.from({ length: toolsPerServer }, (_, i) => {
    const [f, n] = base[i % base.length]!;
    const round = Math.floor(i / base.length);
    return [f, n, round === 0 ? `${f}_${n}` : `${f}_${n}_v${round + 1}`] as const;
  });
}

export function profilesFor(servers: number, toolsPerServer: number): Map<string, McpProfile> {
  const all = catalog(toolsPerServer);
  const out = new Map<string, McpProfile>();
  for (let i = 0; i < servers; i++) {
    const s = serverName(i);
    const tools = all.map(([f, n, name]) => ({ ...profileTool(s, f, n), name }));
    out.set(s, { apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name: s }, spec: { service: s, version: '1.0.0', tools } });
  }
  return out;
}

/** The strategy document's defaults (§6.2, §4.4): hard denials and approvals first, broad allows last. */
function baseRules(): Policy[] {
  return [
    { name: 'Block secrets in outbound', priority: 1, when: { openWorldHint: true, labels: ['data:secret'] }, action: 'deny' },
    { name: 'Deny large amounts', priority: 5, when: { labels: ['finance:large-amount'] }, action: 'deny' },
    { name: 'Approve external communication', priority: 10, when: { verbs: ['create'], labels: ['scope:external', 'category:communication'] }, action: 'require_approval', approvers: ['manager'], timeout: '60m' },
    { name: 'Approve bulk messaging', priority: 12, when: { labels: ['audience:bulk'] }, action: 'require_approval', approvers: ['automation-admins'], quorum: 2, timeout: '2h' },
    { name: 'Approve financial actions', priority: 15, when: { labels: ['category:financial'], readOnlyHint: false }, action: 'require_approval', approvers: ['finance'], timeout: '24h' },
    { name: 'Approve destructive operations', priority: 20, when: { destructiveHint: true }, action: 'require_approval', approvers: ['admin'] },
    { name: 'Approve PII exports', priority: 30, when: { tools: ['export_*'], labels: ['data:pii'] }, action: 'require_approval', approvers: ['privacy'] },
    { name: 'Allow internal communication', priority: 90_000, when: { labels: ['scope:internal'] }, action: 'allow' },
    { name: 'Allow read-only', priority: 90_001, when: { readOnlyHint: true }, action: 'allow' },
    { name: 'Allow writes for editors', priority: 90_002, when: { roles: ['editor'], verbs: ['create', 'update'] }, action: 'allow' },
  ];
}

/** Rule i of the per-team part: scoped to one server and a glob or two, owned by team i mod teams. */
function teamRule(i: number, servers: number, teams: number): Policy {
  const server = serverName(i % servers);
  const team = `team-${i % teams}`;
  const noun = nouns[Math.floor(i / servers) % nouns.length]!;
  const name = `${team} ${server} rule ${i}`;
  const priority = 1_000 + i;
  switch (i % 4) {
    case 0: return { name, priority, when: { roles: [team], servers: [server], tools: [`update_${noun}`, `create_${noun}`] }, action: 'allow' };
    case 1: return { name, priority, when: { servers: [server], tools: [`update_${noun}`] }, action: 'require_approval', approvers: [`${team}-leads`] };
    case 2: return { name, priority, when: { servers: [server], tools: [`*_${noun}`], labels: ['data:pii'] }, action: 'require_approval', approvers: ['privacy', `${team}-leads`] };
    default: return { name, priority, when: { servers: [server], tools: [`search_${noun}`], roles: ['contractor'] }, match: 'all', action: 'deny' };
  }
}

export interface SynthOptions {
  servers: number;
  toolsPerServer: number;
  rules: number;
  teams?: number;
}

export function policyFor(opts: SynthOptions): McpSecurityPolicy {
  const teams = opts.teams ?? 50;
  const base = baseRules();
  const rules = [...base.slice(0, opts.rules), ...Array.from({ length: Math.max(0, opts.rules - base.length) }, (_, i) => teamRule(i, opts.servers, teams))];
  const servers = Array.from({ length: opts.servers }, (_, i) => serverName(i));
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpSecurityPolicy',
    metadata: { name: `bench-${opts.rules}`, namespace: 'bench' },
    spec: {
      enforcement: 'enforce',
      defaultAction: 'deny',
      tenant: { company_domain: 'acme.com' },
      servers: servers.map((name) => ({ name, url: `http://${name}.mcp.svc:8080/mcp` })),
      profiles: servers.map((name) => ({ name })),
      identity: {
        issuer: 'https://idp.acme.com',
        audience: 'https://toolgate.acme.com',
        roles: [
          { name: 'editor', claimValues: ['editor'] },
          { name: 'contractor', claimValues: ['contractor'] },
          // Grants name their server literally (validation refuses `crm-*/…`), so one per server.
          { name: 'support', claimValues: ['support'], tools: servers.flatMap((s) => (kindOf(s) === 'crm' ? [`${s}/get_*`, `${s}/list_*`] : kindOf(s) === 'tickets' ? [`${s}/*`] : [])) },
          ...Array.from({ length: teams }, (_, i) => ({ name: `team-${i}`, claimValues: [`team-${i}`] })),
        ],
      },
      policies: rules,
    },
  };
}

export type InputKind = 'read' | 'send' | 'financial' | 'destructive' | 'unknown-tool' | 'role-restricted' | 'write';

/** A mixed input set: mostly reads, then sends with argument classifiers, writes, destructive calls, unknown tools and role-restricted callers. */
export function inputSet(opts: SynthOptions & { count: number; seed?: number }): Array<{ kind: InputKind; input: PolicyInput }> {
  const r = rng(opts.seed ?? 42);
  const mix: Array<[InputKind, number]> = [['read', 0.35], ['send', 0.2], ['write', 0.1], ['financial', 0.05], ['destructive', 0.1], ['unknown-tool', 0.1], ['role-restricted', 0.1]];
  const available = catalog(opts.toolsPerServer);
  const toolOf = (fs: readonly Family[]) => pick(r, available.filter(([f]) => fs.includes(f)))[2];
  const caller = (roles: string[]) => ({ agent: `agent-${Math.floor(r() * 20)}`, operator: `user-${Math.floor(r() * 200)}`, roles, scopes: [] });
  const teamRoles = () => pick(r, [[], [], ['editor'], [`team-${Math.floor(r() * (opts.teams ?? 50))}`], ['contractor']]);
  const out: Array<{ kind: InputKind; input: PolicyInput }> = [];
  for (let i = 0; i < opts.count; i++) {
    let x = r();
    const kind = mix.find(([, p]) => (x -= p) < 0)?.[0] ?? 'read';
    const server = serverName(Math.floor(r() * opts.servers));
    let input: PolicyInput;
    switch (kind) {
      case 'read':
        input = { server, tool: toolOf(['get', 'list', 'search', 'export']), arguments: { id: `r-${i}`, limit: 50 }, annotations: { readOnlyHint: true }, caller: caller(teamRoles()) };
        break;
      case 'send': {
        const to = pick(r, ['bob@acme.com', 'eve@evil.com', ['a@acme.com', 'b@acme.com'], 'carol@partner.io']);
        const args: Record<string, unknown> = { to, subject: 'Q3 update', body: r() < 0.1 ? '-----BEGIN RSA PRIVATE KEY-----\nMIIE' : 'See attached.' };
        if (r() < 0.2) args.recipients = Array.from({ length: 20 + Math.floor(r() * 80) }, (_, j) => `+1555${String(j).padStart(7, '0')}`);
        input = { server, tool: toolOf(['send']), arguments: args, caller: caller(teamRoles()) };
        break;
      }
      case 'write':
        input = { server, tool: toolOf(['create', 'update']), arguments: { id: `w-${i}`, fields: { status: 'open', owner: 'alice' } }, caller: caller(teamRoles()) };
        break;
      case 'financial':
        input = { server: serverName(3 + 10 * Math.floor(r() * (opts.servers / 10))), tool: pick(r, ['create_invoice', 'create_payment', 'create_order']), arguments: { lines: [{ amount: 100 }, { amount: r() < 0.3 ? 250000 : 900 }] }, caller: caller(teamRoles()) };
        break;
      case 'destructive':
        input = { server, tool: toolOf(['delete']), arguments: { id: `d-${i}` }, caller: caller(teamRoles()) };
        break;
      case 'unknown-tool':
        input = { server, tool: `${pick(r, ['purge', 'exec', 'fetch', 'read', 'drop', 'sync', 'approve'])}_${pick(r, ['cache', 'query', 'table', 'mirror', 'batch'])}_${i % 97}`, arguments: { target: 'x' }, annotations: r() < 0.5 ? { readOnlyHint: r() < 0.5 } : {}, caller: caller(teamRoles()) };
        break;
      case 'role-restricted':
        input = { server, tool: toolOf(familyNames), arguments: { id: `s-${i}` }, caller: caller(['support']) };
        break;
    }
    out.push({ kind, input });
  }
  return out;
}
