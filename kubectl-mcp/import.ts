// `kubectl mcp import FILE`: mcp-security.yaml (strategy document §4.4) → McpSecurityPolicy, a
// community pack (§4.5) → McpProfile; printed as YAML, written into a directory, or applied
// server-side. Nothing the file says is dropped: what cannot be mapped is an error with its line.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { McpProfile, McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import { importPack, importSecurityFile, kindOf } from '../pkg/security-file/import.ts';
import { SecurityFileError } from '../pkg/security-file/located.ts';
import { CliError, connect, globalHelp, globalOptions, group, parse, UsageError, version } from './cli.ts';

const command = 'import';
export const importFieldManager = 'kubectl-mcp-import';

export const importHelp = `Import an mcp-security.yaml or a community security pack.

mcp-security.yaml (version, tenant, profiles, tool_overrides, classifiers, policies) becomes an
McpSecurityPolicy; a pack (service, description, tools; named by its first line
"# @openclaw/security-<name> vX.Y.Z") becomes an McpProfile. Profile references
"@openclaw/security-<name>" name the shipped McpProfile <name> (profiles/). Every key is mapped
or reported as an error with its line; see docs/mcp-security-yaml.md.

Usage:
  kubectl mcp import FILE [--name NAME] [--server NAME=URL ...] [-o DIR | --apply] [-n NAMESPACE]

Examples:
  kubectl mcp import mcp-security.yaml --name acme --server gmail=http://gmail-mcp.mcp:8080/mcp
  kubectl mcp import security-gmail.yaml --apply

Flags:
      --name=NAME          metadata.name of the McpSecurityPolicy (default: mcp-security), or of the
                           McpProfile (default: from the pack's header, else its service)
      --server=NAME=URL    where a governed server listens (repeatable); adds to the file's servers:
  -o, --output-dir=DIR     write <kind>-<name>.yaml into DIR instead of printing
      --apply              apply server-side (field manager ${importFieldManager}) instead of printing

${globalHelp}
`;

const options = {
  ...globalOptions,
  name: { type: 'string' },
  server: { type: 'string', multiple: true },
  'output-dir': { type: 'string', short: 'o' },
  apply: { type: 'boolean' },
} as const;

export function serverFlags(flags: string[] | undefined, cmd: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags ?? []) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UsageError(`--server must be NAME=URL, got "${f}"`, cmd);
    const name = f.slice(0, i);
    if (Object.hasOwn(out, name)) throw new UsageError(`--server ${name} is given twice`, cmd);
    out[name] = f.slice(i + 1);
  }
  return out;
}

export async function importCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(command, args, options, 1);
  if (values.help) {
    out.write(importHelp);
    return 0;
  }
  const file = positionals[0];
  if (!file) throw new UsageError('FILE is required: an mcp-security.yaml or a pack (- for stdin)', command);
  if (values.apply && values['output-dir']) throw new UsageError('--apply and -o are exclusive', command);
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const servers = serverFlags(values.server, command);
  let object: McpSecurityPolicy | McpProfile;
  try {
    if (kindOf(text, file) === 'pack') {
      if (values.server) throw new UsageError('--server applies to mcp-security.yaml, not to a pack', command);
      object = importPack(text, values.name ? { name: values.name } : {}, file);
    } else {
      // Namespace only when applying or asked for: a printed policy stays portable (kubectl apply -n).
      const namespace = values.apply || values.namespace ? connectNamespace(values) : undefined;
      object = importSecurityFile(text, { name: values.name ?? 'mcp-security', ...(namespace ? { namespace } : {}), servers }, file);
    }
  } catch (e) {
    if (e instanceof SecurityFileError) throw new CliError(e.message);
    throw e;
  }

  if (values.apply) {
    const { client, namespace } = connect(values);
    const namespaced = object.kind === 'McpSecurityPolicy';
    const plural = namespaced ? 'mcpsecuritypolicies' : 'mcpprofiles';
    const name = object.metadata.name ?? '';
    await client.apply({ group, version, plural, ...(namespaced ? { namespace } : {}), name }, object, importFieldManager);
    out.write(`${object.kind.toLowerCase()}.${group}/${name} serverside-applied${namespaced ? ` in namespace ${namespace}` : ''}\n`);
    return 0;
  }
  const yaml = stringify(object, { lineWidth: 0 });
  if (values['output-dir']) {
    mkdirSync(values['output-dir'], { recursive: true });
    const path = join(values['output-dir'], `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`);
    writeFileSync(path, yaml);
    out.write(`wrote ${path}\n`);
    return 0;
  }
  out.write(yaml);
  return 0;
}

function connectNamespace(values: Parameters<typeof connect>[0]): string {
  return values.namespace || connect(values).namespace;
}
