// Computes an McpSecurityPolicy's status from the cached policy and profiles: Accepted (the
// policy is valid beyond what the schema checks), Ready (everything needed to enforce it holds),
// per-problem messages naming their field, and counts. Pure: the controller decides whether to
// write the result.
import type { Condition, McpProfile, McpSecurityPolicy, McpSecurityPolicyStatus, Problem } from '../../../api/v1alpha1/index.ts';
import { setCondition } from '../kube/conditions.ts';

export interface ValidationResult {
  problems: Problem[];
  counts?: McpSecurityPolicyStatus['counts'];
}

export type PolicyValidator = (policy: McpSecurityPolicy, profiles: ReadonlyMap<string, McpProfile>) => ValidationResult;

/** CamelCase reasons by the kind of problem, most specific first. */
export function reasonFor(problems: readonly Problem[]): string {
  const text = problems.map((p) => `${p.field} ${p.message}`).join('\n');
  if (/profiles\[\d+\]/.test(text) && /not found/i.test(text)) return 'ProfileNotFound';
  if (/regular expression|regex/i.test(text)) return 'InvalidRegex';
  if (/variable/i.test(text)) return 'UnresolvedVariable';
  if (/unknown server|not in spec\.servers/i.test(text)) return 'UnknownServer';
  if (/duplicate/i.test(text)) return 'Duplicate';
  return 'Invalid';
}

export function summarize(problems: readonly Problem[], max = 3): string {
  const shown = problems.slice(0, max).map((p) => `${p.field}: ${p.message}`);
  const more = problems.length > max ? ` (and ${problems.length - max} more in status.problems)` : '';
  return shown.join('; ') + more;
}

export function desiredPolicyStatus(
  policy: McpSecurityPolicy,
  validation: ValidationResult,
  now: Date = new Date(),
): McpSecurityPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  const previous: Condition[] = policy.status?.conditions ?? [];
  const ok = validation.problems.length === 0;
  const reason = ok ? 'Valid' : reasonFor(validation.problems);
  const message = ok ? 'policy is valid' : summarize(validation.problems);
  let conditions = setCondition(previous, { type: 'Accepted', status: ok ? 'True' : 'False', reason, message, observedGeneration: generation }, now);
  conditions = setCondition(conditions, {
    type: 'Ready',
    status: ok ? 'True' : 'False',
    reason: ok ? 'Ready' : reason,
    message: ok ? 'policy is valid and ready to enforce' : message,
    observedGeneration: generation,
  }, now);
  const status: McpSecurityPolicyStatus = { observedGeneration: generation, conditions };
  if (policy.status?.revision) status.revision = policy.status.revision;
  if (validation.counts) status.counts = validation.counts;
  if (!ok) status.problems = validation.problems.slice(0, 100);
  return status;
}
