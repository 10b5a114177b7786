// Reference and consistency checks that a schema cannot express: names that must exist, names
// that must be unique, and combinations that would make decisions ambiguous. Every problem
// names the field at fault so the status can point at it.
import type { McpProfile, McpSecurityPolicy, McpSecurityPolicySpec, Policy, Problem } from '../../../api/v1alpha1/index.ts';
import { ruleKinds } from './kinds.ts';
import { globProblem } from './syntax.ts';
import { hintNames } from './types.ts';

/** Rule names the decision program uses for its own outcomes (toolgate:default, ...). */
export const reservedRulePrefix = 'toolgate:';

/** The server a profile reference applies to: its own `server`, else the profile's service. */
export function profileTarget(ref: { name: string; server?: string }, profile: McpProfile | undefined): string | undefined {
  return ref.server ?? profile?.spec?.service;
}

export function checkReferences(policy: McpSecurityPolicy, profiles: ReadonlyMap<string, McpProfile>): Problem[] {
  const spec: McpSecurityPolicySpec = policy.spec;
  const problems: Problem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  const servers = new Set<string>();
  const notGoverned = (name: string) => `server "${name}" is not in spec.servers`;

  (spec.servers ?? []).forEach((s, i) => {
    if (servers.has(s.name)) add(`spec.servers[${i}].name`, `duplicate server name "${s.name}"`);
    servers.add(s.name);
  });
  if ((spec.servers ?? []).length === 0) add('spec.servers', 'at least one server must be governed');

  const seenRefs = new Set<string>();
  (spec.profiles ?? []).forEach((ref, i) => {
    const profile = profiles.get(ref.name);
    if (!profile) {
      add(`spec.profiles[${i}].name`, `McpProfile "${ref.name}" not found`);
      return;
    }
    const target = profileTarget(ref, profile)!;
    if (!servers.has(target)) {
      add(
        ref.server !== undefined ? `spec.profiles[${i}].server` : `spec.profiles[${i}].name`,
        ref.server !== undefined
          ? notGoverned(target)
          : `McpProfile "${ref.name}" describes service "${target}", which is not in spec.servers; set spec.profiles[${i}].server to the governed server it applies to`,
      );
    }
    const key = `${ref.name}\u0000${target}`;
    if (seenRefs.has(key)) add(`spec.profiles[${i}]`, `duplicate reference to McpProfile "${ref.name}" for server "${target}"`);
    seenRefs.add(key);
  });

  const overrides = new Set<string>();
  (spec.toolOverrides ?? []).forEach((o, i) => {
    if (!servers.has(o.server)) add(`spec.toolOverrides[${i}].server`, notGoverned(o.server));
    const key = `${o.server}\u0000${o.tool}`;
    if (overrides.has(key)) add(`spec.toolOverrides[${i}]`, `duplicate override for tool "${o.tool}" of server "${o.server}"`);
    overrides.add(key);
  });

  const targetOverrides = [
    ...(spec.resourceOverrides ?? []).map((o, i) => ({ server: o.server, glob: o.uri, at: `spec.resourceOverrides[${i}]`, key: 'uri' })),
    ...(spec.promptOverrides ?? []).map((o, i) => ({ server: o.server, glob: o.prompt, at: `spec.promptOverrides[${i}]`, key: 'prompt' })),
  ];
  for (const o of targetOverrides) {
    if (!servers.has(o.server)) add(`${o.at}.server`, notGoverned(o.server));
    const why = globProblem(o.glob);
    if (why) add(`${o.at}.${o.key}`, why);
  }

  (spec.classifiers ?? []).forEach((c, i) => {
    if (!servers.has(c.server)) add(`spec.classifiers[${i}].server`, notGoverned(c.server));
  });

  const roles = new Set<string>();
  (spec.identity?.roles ?? []).forEach((r, i) => {
    if (roles.has(r.name)) add(`spec.identity.roles[${i}].name`, `duplicate role name "${r.name}"`);
    roles.add(r.name);
    for (const [field, form, example] of [['tools', 'server/tool', 'gmail/*'], ['resources', 'server/uri', 'docs/file:///public/*'], ['prompts', 'server/prompt', 'github/review_*']] as const) {
      (r[field] ?? []).forEach((g, j) => {
        const why = globProblem(g);
        if (why) add(`spec.identity.roles[${i}].${field}[${j}]`, why);
        else if (!/^[^/*?[\]{}]+\//.test(g)) add(`spec.identity.roles[${i}].${field}[${j}]`, `"${g}" must have the form ${form}, the server named literally (globs allowed after it, for example ${example})`);
      });
    }
  });

  if (spec.defaultAction === 'require_approval') {
    add('spec.defaultAction', 'require_approval as the default has no approver groups to ask; add a last rule with `when: {}`, action require_approval and approvers instead');
  }

  const names = new Map<string, number>();
  const byPriority = new Map<number, number>();
  (spec.policies ?? []).forEach((p, i) => {
    const at = `spec.policies[${i}]`;
    const prior = names.get(p.name);
    if (prior !== undefined) add(`${at}.name`, `duplicate rule name "${p.name}" (also spec.policies[${prior}])`);
    else names.set(p.name, i);
    if (p.name.startsWith(reservedRulePrefix)) add(`${at}.name`, `rule names starting with "${reservedRulePrefix}" are reserved for toolgate's own outcomes`);

    const samePriority = byPriority.get(p.priority);
    const other = samePriority === undefined ? undefined : spec.policies[samePriority];
    if (other && other.action !== p.action) {
      add(`${at}.priority`, `same priority ${p.priority} as spec.policies[${samePriority}] ("${other.name}") with a different action; give one of them a distinct priority so the order is explicit`);
    } else if (samePriority === undefined) byPriority.set(p.priority, i);

    if (p.action === 'require_approval' && !(p.approvers?.length)) add(`${at}.approvers`, 'require_approval needs at least one approver group');
    if (p.action !== 'require_approval') {
      for (const k of ['approvers', 'quorum', 'timeout'] as const) {
        if (p[k] !== undefined) add(`${at}.${k}`, `${k} applies only to require_approval`);
      }
    }
    (p.when?.servers ?? []).forEach((s, j) => {
      if (!servers.has(s)) add(`${at}.when.servers[${j}]`, notGoverned(s));
    });
    (p.when?.tools ?? []).forEach((g, j) => {
      const why = globProblem(g);
      if (why) add(`${at}.when.tools[${j}]`, why);
    });
    for (const f of ['resources', 'prompts'] as const) {
      (p.when?.[f] ?? []).forEach((g, j) => {
        const why = globProblem(g);
        if (why) add(`${at}.when.${f}[${j}]`, why);
      });
    }
    kindProblems(p, at, add);
    if (spec.identity?.roles) {
      (p.when?.roles ?? []).forEach((r, j) => {
        if (!roles.has(r)) add(`${at}.when.roles[${j}]`, `role "${r}" is not defined in spec.identity.roles`);
      });
    }
  });
  return problems;
}

/** The condition that names each kind's target. */
const targetCondition = { tool: 'tools', resource: 'resources', prompt: 'prompts' } as const;

/**
 * Conditions that could never hold for the kinds a rule governs are mistakes, not policy: a
 * rule that silently never matches would let the default decide what its author meant to rule.
 */
function kindProblems(p: Policy, at: string, add: (field: string, message: string) => void): void {
  const kinds = ruleKinds(p);
  const explicit = (p.when?.kinds?.length ?? 0) > 0;
  for (const [kind, cond] of Object.entries(targetCondition) as Array<[keyof typeof targetCondition, 'tools' | 'resources' | 'prompts']>) {
    if (explicit && (p.when?.[cond]?.length ?? 0) > 0 && !kinds.includes(kind)) add(`${at}.when.${cond}`, `when.${cond} matches only ${kind} operations, and when.kinds does not include ${kind}`);
  }
  const match = p.match ?? 'all';
  const targets = Object.values(targetCondition).filter((c) => (p.when?.[c]?.length ?? 0) > 0);
  if (match === 'all' && targets.length > 1) add(`${at}.when`, `with match all, conditions on ${targets.join(' and ')} can never hold together (each matches only its own kind of operation); split the rule or use match any`);
  if (!kinds.includes('tool')) {
    const toolOnly = hintNames.filter((k) => p.when?.[k] !== undefined);
    if (toolOnly.length > 0 && match === 'all') add(`${at}.when`, `${toolOnly.join(', ')} describe tools only; for kinds ${kinds.join(', ')} they never hold, so the rule could never match`);
    if (p.action === 'require_approval') add(`${at}.action`, `require_approval applies to tool calls only; operations of kind ${kinds.filter((k) => k !== 'tool').join(', ')} can be allowed or denied`);
  }
}
