// `kubectl mcp tools list|diff|accept`: the pinned tool definitions (McpToolPin) of governed
// servers. A server listing a definition other than the accepted one has its tool stopped
// (denied or held, per the policy's spec.toolPinning) until someone who has reviewed the change
// accepts it. Acceptance replaces spec.accepted with the listed definition; the name written is
// the one the API server reports for the caller (SelfSubjectReview) and the admission policy
// checks it against the request, so the record proves who accepted. The write carries the
// resourceVersion read, and --hash binds it to the definition reviewed.
import type { McpToolPin } from '../api/v1alpha1/index.ts';
import { toolPinServerLabel } from '../api/v1alpha1/index.ts';
import { isConflict, type KubeClient } from '../pkg/kube/client.ts';
import { CliError, connect, globalHelp, globalOptions, group, parse, UsageError, version, whoAmI } from './cli.ts';
import { unifiedDiff } from './unified-diff.ts';

export const toolsHelp = `Pinned MCP tool definitions: review and accept changes.

A governed tool's definition (title, description, input and output schema, annotations) is
pinned the first time the authorizer lists it. When the server later lists another, calls to
the tool are denied or held for approval (the policy's spec.toolPinning.onChange) and the tool
is left out of tools/list, until the new definition is accepted here.

Usage:
  kubectl mcp tools list [SERVER] [-A] [-o wide|json]          pins and their state
  kubectl mcp tools diff SERVER TOOL [--policy P]              accepted vs listed definition
  kubectl mcp tools accept SERVER TOOL [--hash sha256:...] [--reason TEXT] [--policy P]

Examples:
  kubectl mcp tools list -n team-a
  kubectl mcp tools diff github create_issue -n team-a
  kubectl mcp tools accept github create_issue -n team-a --hash sha256:3f2a... --reason "new labels parameter, reviewed"

Flags:
      --policy=NAME       the McpSecurityPolicy, when several in the namespace govern a server of that name
      --hash=HASH         accept only if the server still lists this definition (the hash \`diff\` shows)
      --reason=TEXT       why (recorded with the acceptance)
  -A, --all-namespaces    list pins of every namespace
  -o, --output=FORMAT     wide (hashes, who accepted) or json

${globalHelp}
`;

const options = {
  ...globalOptions, policy: { type: 'string' }, hash: { type: 'string' }, reason: { type: 'string' },
  'all-namespaces': { type: 'boolean', short: 'A' }, output: { type: 'string', short: 'o' },
} as const;
const fieldManager = 'kubectl-mcp';
const pins = (namespace?: string, name?: string) => ({ group, version, plural: 'mcptoolpins', ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) });

export async function tools(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    out.write(toolsHelp);
    return 0;
  }
  const { values, positionals } = parse(`tools ${sub}`, rest, options, sub === 'list' ? 1 : 2);
  if (values.help) {
    out.write(toolsHelp);
    return 0;
  }
  if (sub === 'list') return list(values, positionals[0], out);
  if (sub !== 'diff' && sub !== 'accept') throw new UsageError(`unknown tools command "${sub}" (list, diff, accept)`, 'tools');
  const [server, tool] = positionals;
  if (!server || !tool) throw new UsageError(`SERVER and TOOL are required (see \`kubectl mcp tools list\`)`, `tools ${sub}`);
  const { client, namespace } = connect(values);
  const pin = await findPin(client, namespace, server, tool, values.policy);
  if (sub === 'diff') {
    out.write(renderDiff(pin));
    return 0;
  }
  return accept(client, pin, values, out);
}

async function list(values: { 'all-namespaces'?: boolean | undefined; output?: string | undefined; kubeconfig?: string | undefined; context?: string | undefined; namespace?: string | undefined }, server: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const output = values.output;
  if (output !== undefined && output !== 'wide' && output !== 'json') throw new UsageError(`--output must be wide or json; got "${output}"`, 'tools list');
  const { client, namespace } = connect(values);
  const found = await client.list<McpToolPin>(pins(values['all-namespaces'] ? undefined : namespace), server ? { labelSelector: `${toolPinServerLabel}=${server}` } : undefined);
  const items = found.items.sort((a, b) => `${a.metadata.namespace}/${a.spec.server}/${a.spec.tool}`.localeCompare(`${b.metadata.namespace}/${b.spec.server}/${b.spec.tool}`));
  if (output === 'json') {
    out.write(`${JSON.stringify(items, null, 2)}\n`);
    return 0;
  }
  if (items.length === 0) {
    out.write(`No tool pins found${values['all-namespaces'] ? '' : ` in namespace ${namespace}`}.\n`);
    return 0;
  }
  const rows = items.map((p) => [
    ...(values['all-namespaces'] ? [p.metadata.namespace ?? ''] : []), p.spec.server, p.spec.tool, p.status?.state ?? 'Accepted',
    p.status?.findings?.length ? 'risk:poisoning' : '',
    ...(output === 'wide' ? [short(p.spec.accepted.hash), p.status?.listed ? short(p.status.listed.hash) : '', p.spec.accepted.by, p.spec.policy] : []),
  ]);
  const header = [...(values['all-namespaces'] ? ['NAMESPACE'] : []), 'SERVER', 'TOOL', 'STATE', 'LABELS', ...(output === 'wide' ? ['ACCEPTED', 'LISTED', 'ACCEPTED-BY', 'POLICY'] : [])];
  out.write(table([header, ...rows]));
  return 0;
}

async function findPin(client: KubeClient, namespace: string, server: string, tool: string, policy: string | undefined): Promise<McpToolPin> {
  const found = (await client.list<McpToolPin>(pins(namespace), { labelSelector: `${toolPinServerLabel}=${server}` })).items
    .filter((p) => p.spec.server === server && p.spec.tool === tool && (policy === undefined || p.spec.policy === policy));
  if (found.length === 0) throw new CliError(`no pin of tool "${tool}" of server "${server}" in namespace ${namespace}${policy ? ` (policy ${policy})` : ''}: see \`kubectl mcp tools list -n ${namespace}\``);
  if (found.length > 1) throw new CliError(`tool "${tool}" of server "${server}" is pinned by several policies (${found.map((p) => p.spec.policy).join(', ')}); say which with --policy`);
  return found[0]!;
}

/** The accepted and listed definitions as a unified diff of their pretty-printed JSON. */
export function renderDiff(pin: McpToolPin): string {
  const { accepted } = pin.spec;
  const listed = pin.status?.listed;
  const ref = `${pin.spec.server} ${pin.spec.tool} -n ${pin.metadata.namespace}`;
  const findings = (pin.status?.findings ?? []).map((f) => `  ${f.kind}: ${f.pattern} (at ${f.at})\n`).join('');
  const warn = findings ? `Poisoning patterns in the listed definition (risk:poisoning):\n${findings}` : '';
  if (pin.status?.state !== 'Changed' || !listed || listed.hash === accepted.hash) {
    return `${pin.spec.server}/${pin.spec.tool}: the server lists the accepted definition (${accepted.hash}, accepted by ${accepted.by} at ${accepted.at}).\n${warn}`;
  }
  const pretty = (text: string | undefined) => (text === undefined ? undefined : JSON.stringify(JSON.parse(text) as unknown, null, 2));
  const from = pretty(accepted.definition);
  const to = pretty(listed.definition);
  const body = from !== undefined && to !== undefined
    ? `${unifiedDiff(from, to, { from: `accepted ${accepted.hash} (by ${accepted.by} at ${accepted.at})`, to: `listed ${listed.hash} (seen ${listed.seenAt})` })}\n`
    : `(a definition is over 32 KiB and was pinned by hash only: accepted ${accepted.hash}, listed ${listed.hash})\n`;
  return `${body}${warn}\nTo accept the listed definition:\n  kubectl mcp tools accept ${ref} --hash ${listed.hash} --reason "..."\n`;
}

async function accept(client: KubeClient, initial: McpToolPin, values: { hash?: string | undefined; reason?: string | undefined }, out: NodeJS.WritableStream): Promise<number> {
  const reason = values.reason?.trim();
  if (reason !== undefined && reason.length > 2048) throw new UsageError(`--reason is ${reason.length} characters; at most 2048 are allowed`, 'tools accept');
  if (values.hash !== undefined && !/^sha256:[0-9a-f]{64}$/.test(values.hash)) throw new UsageError(`--hash must be sha256:<64 hex digits> as \`kubectl mcp tools diff\` prints it; got "${values.hash}"`, 'tools accept');
  const me = await whoAmI(client);
  let pin = initial;
  for (let attempt = 1; ; attempt++) {
    const listed = pin.status?.listed;
    const name = `${pin.spec.server}/${pin.spec.tool}`;
    if (pin.status?.state !== 'Changed' || !listed) throw new CliError(`${name}: the server lists the accepted definition (${pin.spec.accepted.hash}); nothing to accept`);
    if (values.hash !== undefined && values.hash !== listed.hash) {
      throw new CliError(`${name}: the server now lists ${listed.hash}, not the ${values.hash} you reviewed; run \`kubectl mcp tools diff\` again. Nothing was accepted`);
    }
    const body: McpToolPin = {
      ...pin,
      spec: {
        ...pin.spec,
        accepted: { hash: listed.hash, ...(listed.definition !== undefined ? { definition: listed.definition } : {}), by: me.username, at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...(reason ? { reason } : {}) },
      },
    };
    try {
      pin = await client.replace<McpToolPin>(pins(pin.metadata.namespace, pin.metadata.name), body, fieldManager);
      break;
    } catch (err) {
      // An authorizer recorded a newer listing in between: check it again (the --hash guard).
      if (!isConflict(err) || attempt >= 5) throw err;
      pin = await client.get<McpToolPin>(pins(pin.metadata.namespace, pin.metadata.name));
    }
  }
  out.write(`mcptoolpin/${pin.metadata.name} (${pin.spec.server}/${pin.spec.tool}) accepted ${pin.spec.accepted.hash} by ${pin.spec.accepted.by}\n`);
  return 0;
}

const short = (hash: string) => hash.slice(0, 'sha256:'.length + 12);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}
