// `kubectl mcp init`: a commented mcp-security.yaml for the chosen profiles, with the strategy
// document's default policies (§6.2) and every tenant variable and server URL the profiles need.
// What the user has not given is left empty, which import refuses naming the line: a scaffold
// never imports with a placeholder that would silently classify wrong.
import { writeFileSync, existsSync } from 'node:fs';
import { stringify } from 'yaml';
import { schemaBase } from '../pkg/security-file/json-schema.ts';
import { profileRefOf } from '../pkg/security-file/profile-refs.ts';
import { CliError, parse, UsageError } from './cli.ts';
import { serverFlags } from './import.ts';
import { resolveProfile, tenantVariables } from './profile-source.ts';

const command = 'init';

export const initHelp = `Scaffold a commented mcp-security.yaml.

Usage:
  kubectl mcp init --profile NAME [--profile NAME ...] [--tenant NAME] [--var KEY=VALUE ...] [--server NAME=URL ...] [-o FILE]

Examples:
  kubectl mcp init --profile gmail --profile slack --tenant acme --var company_domain=acme.com

Tenant variables and server URLs not given on the command line are left empty: fill them in
before \`kubectl mcp import\`, which refuses empty values and names their line.

Flags:
      --profile=NAME       a shipped profile (gmail or @openclaw/security-gmail) or a pack file (repeatable)
      --tenant=NAME        the tenant, used in the file's header and as the suggested policy name
      --var=KEY=VALUE      a tenant variable (repeatable)
      --server=NAME=URL    where a governed server listens (repeatable)
  -o, --output=FILE        write FILE (refuses to overwrite) instead of printing
  -h, --help               show this help
`;

const options = {
  profile: { type: 'string', multiple: true }, tenant: { type: 'string' }, var: { type: 'string', multiple: true },
  server: { type: 'string', multiple: true }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
} as const;

/** The strategy document's default policies (§6.2), in the file's format. */
const defaultPolicies = `policies:
  # Hard denials (priority 0-9).
  - name: Block SSRF to cloud metadata
    when: {labels: [infra:cloud-metadata]}
    action: deny
    priority: 0
  - name: Block secrets in outbound
    when: {openWorldHint: true, labels: [data:secret]}
    match: all
    action: deny
    priority: 1

  # Approval requirements (priority 10-49). Approvers are Kubernetes groups.
  - name: Approve external communication
    when: {verb: create, labels: [scope:external, category:communication]}
    match: all
    action: require_approval
    approvers: [manager]
    timeout: 60m
    priority: 10
  - name: Approve financial actions
    when: {readOnlyHint: false, labels: [category:financial]}
    match: all
    action: require_approval
    approvers: [finance]
    timeout: 24h
    priority: 10
  - name: Approve production changes
    when: {readOnlyHint: false, labels: [env:production]}
    match: all
    action: require_approval
    approvers: [ops]
    timeout: 30m
    priority: 20
  - name: Approve destructive operations
    when: {destructiveHint: true}
    action: require_approval
    approvers: [admin]
    timeout: 60m
    priority: 20
  - name: Approve arbitrary execution
    when: {labels: [category:exec]}
    action: require_approval
    approvers: [admin]
    timeout: 15m
    priority: 20

  # Auto-allows (priority 50+).
  - name: Allow read-only
    when: {readOnlyHint: true}
    action: allow
    priority: 50
  - name: Allow internal scope
    when: {labels: [scope:internal]}
    action: allow
    priority: 50
  # Anything else is denied (default_action: deny). Add a catch-all allow only deliberately:
  # - {name: Default allow, when: {}, action: allow, priority: 999}
`;

export function scaffold(o: { profiles: string[]; tenant?: string; vars: Record<string, string>; servers: Record<string, string> }): string {
  const profiles = o.profiles.map((ref) => ({ ref, p: resolveProfile(ref) }));
  const q = (v: string) => stringify(v).trimEnd();
  const lines: string[] = [
    `# yaml-language-server: $schema=${schemaBase}/mcp-security.schema.json`,
    `# mcp-security.yaml${o.tenant ? ` for tenant ${o.tenant}` : ''} (format: docs/mcp-security-yaml.md). Apply it with:`,
    `#   kubectl mcp import mcp-security.yaml --name ${o.tenant ?? 'mcp-security'} -n NAMESPACE --apply`,
    'version: "1.0"',
    '',
  ];
  const vars = new Map<string, string[]>();
  for (const { p } of profiles) for (const v of tenantVariables(p)) vars.set(v, [...(vars.get(v) ?? []), p.metadata.name ?? '']);
  for (const k of Object.keys(o.vars)) if (!vars.has(k)) vars.set(k, []);
  if (vars.size) {
    lines.push('# Tenant variables, inserted literally into the profiles\' classifiers as {name}.', 'tenant:');
    for (const [k, users] of vars) {
      const notes = [...(users.length ? [`used by ${users.join(', ')}`] : []), ...(o.vars[k] ? [] : ['fill in'])];
      lines.push(`  ${k}: ${q(o.vars[k] ?? '')}${notes.length ? `  # ${notes.join('; ')}` : ''}`);
    }
    lines.push('');
  }
  lines.push('# Community profiles, lowest authority first; tool_overrides below outrank them.', 'profiles:');
  for (const { ref, p } of profiles) {
    const name = p.metadata.name ?? '';
    lines.push(`  - ${q(ref.startsWith('@') || !ref.includes('/') ? profileRefOf(name) : name)}  # ${p.spec.upstream ?? p.spec.service}, ${p.spec.tools.length} tools`);
  }
  lines.push('');
  lines.push('# Where each governed server listens (Streamable HTTP).', 'servers:');
  const services = new Set([...profiles.map(({ p }) => p.spec.service), ...Object.keys(o.servers)]);
  for (const s of services) lines.push(`  ${s}: ${q(o.servers[s] ?? '')}${o.servers[s] ? '' : '  # fill in'}`);
  lines.push('');
  lines.push(
    '# Per-tool classification by you, outranking server annotations and profiles, for example:',
    '# tool_overrides:',
    `#   ${[...services][0] ?? 'server'}:`,
    '#     some_tool: {destructiveHint: true, verb: update, labels: [category:code]}',
    '',
    '# Argument classifiers of your own (labels by argument value), for example:',
    '# classifiers:',
    `#   ${[...services][0] ?? 'server'}:`,
    '#     some_tool:',
    '#       - {field: to, not_contains: "@example.com", set_labels: [scope:external]}',
    '',
    '# Rules by ascending priority; the first match decides (the document\'s default catalog, §6.2).',
  );
  return `${lines.join('\n')}\n${defaultPolicies}`;
}

function pairs(flags: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags ?? []) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UsageError(`--${flag} must be KEY=VALUE, got "${f}"`, command);
    if (Object.hasOwn(out, f.slice(0, i))) throw new UsageError(`--${flag} ${f.slice(0, i)} is given twice`, command);
    out[f.slice(0, i)] = f.slice(i + 1);
  }
  return out;
}

export function initCommand(args: string[], out: NodeJS.WritableStream): number {
  const { values } = parse(command, args, options, 0);
  if (values.help) {
    out.write(initHelp);
    return 0;
  }
  if (!values.profile?.length) throw new UsageError('name at least one --profile (see `kubectl mcp profile list`)', command);
  const text = scaffold({ profiles: values.profile, ...(values.tenant ? { tenant: values.tenant } : {}), vars: pairs(values.var, 'var'), servers: serverFlags(values.server, command) });
  if (values.output) {
    if (existsSync(values.output)) throw new CliError(`${values.output} exists; not overwriting it`);
    writeFileSync(values.output, text);
    out.write(`wrote ${values.output}\n`);
  } else out.write(text);
  return 0;
}
