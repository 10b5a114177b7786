// spec.audit → data.toolgate.compiled.audit: what the Rego needs of the audit settings. Only
// requirePurposeFor reaches the program (the decision denies a call carrying one of its labels
// that states no purpose, purpose.rego); onFailure is the authorizer's and stays in the
// gateway part. Absent when nothing requires a purpose, so policies without it compile to the
// same bytes as before.
import type { McpProfile, McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { compareCodeUnits } from '../../json/canonical.ts';

export interface CompiledAudit {
  /** Labels (sorted) whose tool calls must state a purpose. */
  requirePurposeFor: { labels: string[] };
}

export function compileAudit(spec: McpSecurityPolicy['spec']): CompiledAudit | undefined {
  const labels = [...new Set(spec.audit?.requirePurposeFor?.labels ?? [])].sort(compareCodeUnits);
  return labels.length > 0 ? { requirePurposeFor: { labels } } : undefined;
}

/** server → tool → argument field paths whose values are personal (sorted, unique). */
export type PersonalFieldMap = Record<string, Record<string, string[]>>;

/**
 * The fields profiles and toolOverrides mark personal, per governed server and tool, for the
 * authorizer's redactor (data.toolgate.gateway.personalFields). A union: an override can add
 * fields but never unmark what a profile marks. Absent when nothing is marked. Unknown profiles
 * are reported by checkReferences; they contribute nothing here.
 */
export function compilePersonalFields(spec: McpSecurityPolicy['spec'], profiles: ReadonlyMap<string, McpProfile>): PersonalFieldMap | undefined {
  const acc = new Map<string, Map<string, Set<string>>>();
  const add = (server: string, tool: string, fields: readonly string[] | undefined) => {
    if (!fields?.length) return;
    const tools = acc.get(server) ?? acc.set(server, new Map()).get(server)!;
    const set = tools.get(tool) ?? tools.set(tool, new Set()).get(tool)!;
    for (const f of fields) set.add(f);
  };
  const governed = new Set(spec.servers.map((s) => s.name));
  for (const ref of spec.profiles ?? []) {
    const profile = profiles.get(ref.name);
    if (!profile) continue;
    const server = ref.server ?? profile.spec.service;
    if (!governed.has(server)) continue;
    for (const t of profile.spec.tools) add(server, t.name, t.personalFields);
  }
  for (const o of spec.toolOverrides ?? []) add(o.server, o.tool, o.personalFields);
  if (acc.size === 0) return undefined;
  const out: PersonalFieldMap = {};
  for (const server of [...acc.keys()].sort(compareCodeUnits)) {
    const tools: Record<string, string[]> = {};
    const byTool = acc.get(server)!;
    for (const tool of [...byTool.keys()].sort(compareCodeUnits)) tools[tool] = [...byTool.get(tool)!].sort(compareCodeUnits);
    out[server] = tools;
  }
  return out;
}
