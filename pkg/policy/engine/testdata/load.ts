// Loads the decision-table fixtures (YAML CRs) and compiles them the way the operator does.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { McpProfile, McpSecurityPolicy } from '../../../../api/v1alpha1/index.ts';

const here = (name: string) => new URL(name, import.meta.url);

export function readDocuments(name: string): unknown[] {
  return parseAllDocuments(readFileSync(here(name), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${name}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  });
}

export function fixtureProfiles(): Map<string, McpProfile> {
  const profiles = readDocuments('profiles.yaml') as McpProfile[];
  return new Map(profiles.map((p) => [p.metadata.name!, p]));
}

export function fixturePolicy(): McpSecurityPolicy {
  const [policy] = readDocuments('policy.yaml') as McpSecurityPolicy[];
  return policy!;
}
