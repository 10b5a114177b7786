// `kubectl mcp profile list|show|add`: the shipped community profiles and pack files.
import { stringify } from 'yaml';
import type { McpProfile } from '../api/v1alpha1/index.ts';
import { exportPack } from '../pkg/security-file/export.ts';
import { profileRefOf } from '../pkg/security-file/profile-refs.ts';
import { connect, globalHelp, globalOptions, group, oneOf, parse, UsageError, version } from './cli.ts';
import { importFieldManager } from './import.ts';
import { allShipped, resolveProfile, tenantVariables } from './profile-source.ts';

const command = 'profile';

export const profileHelp = `Community security profiles (McpProfiles): the shipped ones and pack files.

Usage:
  kubectl mcp profile list [PACK_FILE ...]            the shipped profiles, and these packs
  kubectl mcp profile show NAME|PACK_FILE [-o yaml|pack]
  kubectl mcp profile add NAME|PACK_FILE [--apply]    print the McpProfile, or apply it server-side

NAME is a shipped profile (gmail) or its reference (@openclaw/security-gmail).

Flags:
  -o, --output=FORMAT   show: yaml (the McpProfile, default) or pack (the §4.5 file format)
      --apply           add: apply server-side (field manager ${importFieldManager}); McpProfiles are cluster-scoped

${globalHelp}
`;

const options = { ...globalOptions, output: { type: 'string', short: 'o' }, apply: { type: 'boolean' } } as const;

export async function profileCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(command, rest, options, sub === 'list' ? 64 : 1);
  if (values.help || sub === undefined || sub === '-h' || sub === '--help') {
    out.write(profileHelp);
    return 0;
  }
  switch (sub) {
    case 'list': {
      const profiles: Array<{ ref: string; p: McpProfile }> = [
        ...allShipped().map((p) => ({ ref: profileRefOf(p.metadata.name ?? ''), p })),
        ...positionals.map((f) => ({ ref: f, p: resolveProfile(f) })),
      ];
      const rows = [['NAME', 'REFERENCE', 'SERVICE', 'VERSION', 'TOOLS', 'TENANT VARIABLES'], ...profiles.map(({ ref, p }) => [
        p.metadata.name ?? '', ref, p.spec.service, p.spec.version, String(p.spec.tools.length), tenantVariables(p).join(',') || '-',
      ])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      out.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n');
      return 0;
    }
    case 'show': {
      const p = resolveProfile(need(positionals[0], 'show'));
      const output = oneOf(command, 'output', values.output, ['yaml', 'pack'] as const) ?? 'yaml';
      out.write(output === 'pack' ? exportPack(p) : stringify(p, { lineWidth: 0 }));
      return 0;
    }
    case 'add': {
      const p = resolveProfile(need(positionals[0], 'add'));
      if (!values.apply) {
        out.write(stringify(p, { lineWidth: 0 }));
        return 0;
      }
      const { client } = connect(values);
      const name = p.metadata.name ?? '';
      await client.apply({ group, version, plural: 'mcpprofiles', name }, { apiVersion: p.apiVersion, kind: p.kind, metadata: { name, ...(p.metadata.labels ? { labels: p.metadata.labels } : {}) }, spec: p.spec }, importFieldManager);
      out.write(`mcpprofile.${group}/${name} serverside-applied${tenantVariables(p).length ? ` (policies using it need tenant variables: ${tenantVariables(p).join(', ')})` : ''}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown profile command "${sub}" (list, show, add)`, command);
  }
}

function need(v: string | undefined, sub: string): string {
  if (!v) throw new UsageError(`${sub} needs NAME or PACK_FILE`, command);
  return v;
}
