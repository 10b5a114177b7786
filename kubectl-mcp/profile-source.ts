// The McpProfiles `kubectl mcp` knows without a cluster: the shipped ones (profiles/ beside the
// plugin in a release, the checkout's profiles/ otherwise) and community pack files.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { McpProfile } from '../api/v1alpha1/index.ts';
import { classifierConditionKeys } from '../api/v1alpha1/index.ts';
import { importPack } from '../pkg/security-file/import.ts';
import { SecurityFileError } from '../pkg/security-file/located.ts';
import { profileNameOf, shippedProfiles } from '../pkg/security-file/profile-refs.ts';
import { CliError } from './cli.ts';

function profilesDir(): string {
  for (const rel of ['profiles/', '../profiles/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}gmail.yaml`)) return dir;
  }
  throw new CliError('the shipped profiles are not installed beside the plugin (profiles/); pass a pack file instead');
}

export function shippedProfile(name: string): McpProfile {
  return parse(readFileSync(`${profilesDir()}${name}.yaml`, 'utf8')) as McpProfile;
}

export function allShipped(): McpProfile[] {
  return shippedProfiles.map(shippedProfile);
}

/** A profile by reference (`gmail`, `@openclaw/security-gmail`) or a pack file's path. */
export function resolveProfile(refOrFile: string): McpProfile {
  if (refOrFile.endsWith('.yaml') || refOrFile.endsWith('.yml') || refOrFile.includes('/') && !refOrFile.startsWith('@')) {
    let text: string;
    try {
      text = readFileSync(refOrFile, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${refOrFile}: ${(e as Error).message}`);
    }
    const doc = parse(text) as { kind?: unknown } | null;
    if (doc?.kind === 'McpProfile') return doc as McpProfile;
    try {
      return importPack(text, {}, refOrFile);
    } catch (e) {
      if (e instanceof SecurityFileError) throw new CliError(e.message);
      throw e;
    }
  }
  const mapped = profileNameOf(refOrFile);
  if ('error' in mapped) throw new CliError(mapped.error);
  if (!(shippedProfiles as readonly string[]).includes(mapped.name)) throw new CliError(`no shipped profile ${mapped.name} (shipped: ${shippedProfiles.join(', ')}); pass a pack file`);
  return shippedProfile(mapped.name);
}

/** Tenant variables a profile's classifiers use (`{company_domain}`), in order of first use. */
export function tenantVariables(p: McpProfile): string[] {
  const out = new Set<string>();
  for (const t of p.spec.tools) {
    for (const c of t.classify ?? []) {
      for (const k of classifierConditionKeys) {
        const v = c[k];
        if (typeof v === 'string') for (const m of v.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) out.add(m[1]!);
      }
    }
  }
  return [...out];
}
