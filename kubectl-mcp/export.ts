// `kubectl mcp export`: an McpSecurityPolicy back as mcp-security.yaml, an McpProfile back as a
// community pack — from the cluster, or from a YAML file of the object (`-f`). The inverse of
// import: importing what export prints gives the same object.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { McpProfile, McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import { isNotFound } from '../pkg/kube/client.ts';
import { exportPack, exportSecurityFile, ExportError } from '../pkg/security-file/export.ts';
import { CliError, connect, globalHelp, globalOptions, group, parse, UsageError, version } from './cli.ts';

const command = 'export';

export const exportHelp = `Export an McpSecurityPolicy as mcp-security.yaml, or an McpProfile as a community pack.

Usage:
  kubectl mcp export policy NAME [-n NAMESPACE]
  kubectl mcp export profile NAME
  kubectl mcp export -f OBJECT.yaml

Fields mcp-security.yaml cannot carry (identity, audit, resource and prompt overrides, upstream
credentials) are an error naming them: such a policy stays an McpSecurityPolicy.

Flags:
  -f, --filename=FILE   export the McpSecurityPolicy or McpProfile in FILE instead of the cluster's

${globalHelp}
`;

const options = { ...globalOptions, filename: { type: 'string', short: 'f' } } as const;

export async function exportCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(command, args, options, 2);
  if (values.help) {
    out.write(exportHelp);
    return 0;
  }
  let object: McpSecurityPolicy | McpProfile;
  if (values.filename) {
    if (positionals.length) throw new UsageError('-f and KIND NAME are exclusive', command);
    try {
      object = parseYaml(readFileSync(values.filename === '-' ? 0 : values.filename, 'utf8'), { uniqueKeys: true }) as McpSecurityPolicy | McpProfile;
    } catch (e) {
      throw new CliError(`cannot read ${values.filename}: ${(e as Error).message}`);
    }
    if (object?.kind !== 'McpSecurityPolicy' && object?.kind !== 'McpProfile') throw new CliError(`${values.filename} holds no McpSecurityPolicy or McpProfile (kind: ${String((object as { kind?: unknown } | null)?.kind)})`);
  } else {
    const [kind, name] = positionals;
    if (kind !== 'policy' && kind !== 'profile') throw new UsageError('say what to export: policy NAME, profile NAME or -f FILE', command);
    if (!name) throw new UsageError(`NAME of the ${kind} is required`, command);
    const { client, namespace } = connect(values);
    const ref = kind === 'policy' ? { group, version, plural: 'mcpsecuritypolicies', namespace, name } : { group, version, plural: 'mcpprofiles', name };
    try {
      object = await client.get(ref);
    } catch (e) {
      if (isNotFound(e)) throw new CliError(`${kind === 'policy' ? `mcpsecuritypolicy ${name} not found in namespace ${namespace}` : `mcpprofile ${name} not found`}`);
      throw e;
    }
  }
  try {
    out.write(object.kind === 'McpSecurityPolicy' ? exportSecurityFile(object) : exportPack(object));
  } catch (e) {
    if (e instanceof ExportError) throw new CliError(e.message);
    throw e;
  }
  return 0;
}
