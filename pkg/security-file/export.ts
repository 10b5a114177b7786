// McpSecurityPolicy → `mcp-security.yaml`, McpProfile → community pack: the inverse of import.ts
// (import ∘ export is the identity on what import produces). A field the file format cannot
// carry is an error naming it, never left out of the file.
import { Document, stringify } from 'yaml';
import type { ClassifierRule, McpProfile, McpSecurityPolicy, Policy, ProfileTool } from '../../api/v1alpha1/index.ts';
import { classifierConditionKeys } from '../../api/v1alpha1/index.ts';
import { profileNameOf, profileRefOf } from './profile-refs.ts';
import { conditionFileKey, hintKeys, supportedVersions } from './vocabulary.ts';

export class ExportError extends Error {
  override name = 'ExportError';
}

type Spec = McpSecurityPolicy['spec'];
const carried = new Set(['tenant', 'profiles', 'toolOverrides', 'classifiers', 'policies', 'servers', 'defaultAction', 'enforcement']);

export function exportSecurityFile(policy: McpSecurityPolicy): string {
  const s: Spec = policy.spec;
  const lost = Object.keys(s).filter((k) => !carried.has(k) && (s as Record<string, unknown>)[k] !== undefined);
  const lostServer = s.servers.flatMap((x, i) => Object.keys(x).filter((k) => k !== 'name' && k !== 'url' && !(k === 'transport' && x.transport === 'streamable-http')).map((k) => `spec.servers[${i}].${k}`));
  if (lost.length || lostServer.length) throw new ExportError(`mcp-security.yaml cannot carry ${[...lost.map((k) => `spec.${k}`), ...lostServer].join(', ')}; keep this policy as an McpSecurityPolicy`);

  const out: Record<string, unknown> = { version: supportedVersions[0] };
  if (s.tenant) out.tenant = { ...s.tenant };
  if (s.profiles) {
    out.profiles = s.profiles.map((p, i) => {
      const ref = profileRefOf(p.name);
      const back = profileNameOf(ref);
      if ('error' in back || back.name !== p.name) throw new ExportError(`spec.profiles[${i}].name ${JSON.stringify(p.name)} has no mcp-security.yaml reference: ${'error' in back ? back.error : ''}`);
      return p.server ? { name: ref, server: p.server } : ref;
    });
  }
  if (s.toolOverrides) {
    out.tool_overrides = perServerTool(s.toolOverrides, (o) => toolClassification(o));
  }
  if (s.classifiers) {
    const grouped: Record<string, Record<string, unknown[]>> = {};
    for (const c of s.classifiers) ((grouped[c.server] ??= {})[c.tool] ??= []).push(classifierRule(c));
    out.classifiers = grouped;
  }
  out.policies = s.policies.map(policyRule);
  out.servers = Object.fromEntries(s.servers.map((x) => [x.name, x.url]));
  if (s.defaultAction) out.default_action = s.defaultAction;
  if (s.enforcement) out.enforcement = s.enforcement;
  return stringify(out, { lineWidth: 0 });
}

export function exportPack(profile: McpProfile): string {
  const s = profile.spec;
  const name = profile.metadata.name ?? s.service;
  const ref = profileRefOf(name);
  // §4.5 names and versions a pack in its header comment; an own profile has no community
  // reference, so it keeps its version in the body and is named after its service on import.
  const community = ref.startsWith('@');
  if (!community && name !== s.service) {
    throw new ExportError(`McpProfile ${name} is named unlike its service ${s.service} and is not a shipped profile, so a pack cannot carry its name; import the pack with --name ${name}`);
  }
  const body: Record<string, unknown> = { service: s.service };
  if (s.description !== undefined) body.description = s.description;
  if (s.upstream !== undefined) body.upstream = s.upstream;
  if (!community) body.version = s.version;
  body.tools = Object.fromEntries(s.tools.map((t) => [t.name, toolClassification(t)]));
  const doc = new Document(body);
  if (community) doc.commentBefore = ` ${ref} ${s.version}`;
  return doc.toString({ lineWidth: 0 });
}

function perServerTool<T extends { server: string; tool: string }>(items: T[], each: (x: T) => unknown): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const x of items) (out[x.server] ??= {})[x.tool] = each(x);
  return out;
}

function toolClassification(t: Partial<ProfileTool>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of hintKeys) if (t[h] !== undefined) out[h] = t[h];
  if (t.verb !== undefined) out.verb = t.verb;
  if (t.labels !== undefined) out.labels = t.labels;
  if (t.scopes !== undefined) out.scopes = t.scopes;
  if (t.classify !== undefined) out.classify = t.classify.map(classifierRule);
  return out;
}

function classifierRule(c: ClassifierRule): Record<string, unknown> {
  const out: Record<string, unknown> = { field: c.field };
  for (const k of classifierConditionKeys) if (c[k] !== undefined) out[conditionFileKey(k)] = c[k];
  out.set_labels = c.setLabels;
  return out;
}

function policyRule(p: Policy, i: number): Record<string, unknown> {
  const w = p.when;
  const unsupported = Object.keys(w).filter((k) => !['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint', 'secretHint', 'verbs', 'labels', 'servers', 'tools', 'roles'].includes(k));
  if (unsupported.length) throw new ExportError(`mcp-security.yaml cannot carry ${unsupported.map((k) => `spec.policies[${i}].when.${k}`).join(', ')}`);
  const when: Record<string, unknown> = {};
  for (const h of hintKeys) if (w[h] !== undefined) when[h] = w[h];
  if (w.verbs?.length === 1) when.verb = w.verbs[0];
  else if (w.verbs !== undefined) when.verbs = w.verbs;
  for (const k of ['labels', 'servers', 'tools', 'roles'] as const) if (w[k] !== undefined) when[k] = w[k];
  const out: Record<string, unknown> = { name: p.name };
  if (p.description !== undefined) out.description = p.description;
  out.when = when;
  if (p.match !== undefined) out.match = p.match;
  out.action = p.action;
  if (p.approvers !== undefined) out.approvers = p.approvers;
  if (p.quorum !== undefined) out.quorum = p.quorum;
  if (p.timeout !== undefined) out.timeout = p.timeout;
  out.priority = p.priority;
  return out;
}
