// spec.session → data.toolgate.compiled.session: velocity limits and flow rules in the shape of
// compiled rules (the Rego matches their conditions with the same code as the rules'), with
// durations in milliseconds for the authorizer, which keeps the counters and the taint.
import type { McpSecurityPolicySpec, Policy, Problem } from '../../../api/v1alpha1/index.ts';
import { parseDuration } from '../../duration.ts';
import { compareCodeUnits } from '../../json/canonical.ts';
import { compileRules } from './compile.ts';
import { globProblem } from './syntax.ts';
import type { CompiledSession } from './types.ts';

/** How long a taint lasts when the policy does not say. */
export const defaultTaintTtl = '24h';

export function compileSession(spec: McpSecurityPolicySpec, problems: Problem[]): CompiledSession | undefined {
  const session = spec.session;
  if (!session || ((session.limits?.length ?? 0) === 0 && (session.flows?.length ?? 0) === 0)) return undefined;
  const add = (field: string, message: string) => problems.push({ field, message });
  const ms = (value: string, field: string): number => {
    try {
      const n = parseDuration(value, field);
      if (n <= 0) add(field, `must be longer than 0 (got "${value}")`);
      return n;
    } catch (err) {
      add(field, (err as Error).message);
      return 0;
    }
  };
  const names = new Set<string>();
  const unique = (name: string, field: string) => {
    if (names.has(name)) add(field, `duplicate name "${name}": limits and flows share one namespace, as refusals cite them`);
    names.add(name);
  };
  const asRule = (name: string, when: Policy['when'], match: 'all' | 'any' | undefined, action: Policy['action'], a: { approvers?: string[]; quorum?: number; timeout?: string }, field: string): Policy => {
    for (const [key, globs] of [['tools', when.tools], ['resources', when.resources], ['prompts', when.prompts]] as const) {
      (globs ?? []).forEach((g, i) => {
        const p = globProblem(g);
        if (p) add(`${field}.${key}[${i}]`, p);
      });
    }
    if (action === 'require_approval' && (a.approvers?.length ?? 0) === 0) add(`${field.replace(/\.(when|to)$/, '')}.approvers`, 'require_approval needs at least one approver group');
    return { name, priority: 0, when, ...(match ? { match } : {}), action, ...a };
  };
  const limits = (session.limits ?? []).map((l, i) => {
    const field = `spec.session.limits[${i}]`;
    unique(l.name, `${field}.name`);
    const [rule] = compileRules([asRule(l.name, l.when, l.match, l.action, l, `${field}.when`)]);
    if (l.firstUse && (l.max !== 0 || l.action !== 'require_approval')) {
      add(`${field}.firstUse`, 'firstUse needs max: 0 and action require_approval (a denied first use would never be counted, so it would deny forever)');
    }
    return { ...rule!, per: l.per ?? 'session', perTool: l.perTool ?? false, max: l.max, ...(l.firstUse ? { firstUse: true as const } : {}), window: l.window, windowMs: ms(l.window, `${field}.window`) };
  });
  const flows = (session.flows ?? []).map((f, i) => {
    const field = `spec.session.flows[${i}]`;
    unique(f.name, `${field}.name`);
    if (f.from.length === 0) add(`${field}.from`, 'name at least one source label');
    const [rule] = compileRules([asRule(f.name, f.to, f.match, f.action, f, `${field}.to`)]);
    return { ...rule!, from: sortedUnique(f.from) };
  });
  return {
    limits,
    flows,
    sources: sortedUnique(flows.flatMap((f) => f.from)),
    taintTtlMs: ms(session.taintTTL ?? defaultTaintTtl, 'spec.session.taintTTL'),
  };
}

const sortedUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort(compareCodeUnits);
