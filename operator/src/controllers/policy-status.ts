// Computes an McpSecurityPolicy's status from the compile/bundle outcome and the authorizers'
// reports: conditions, served revision, per-problem messages naming their field, and counts.
// Pure: the controller decides whether to write the result.
import type { Condition, McpSecurityPolicy, McpSecurityPolicyStatus, Problem } from '../../../api/v1alpha1/index.ts';
import { setCondition } from '../../../pkg/kube/conditions.ts';
import type { Distribution } from './distribution.ts';
import type { BundleOutcome } from './policy-bundler.ts';

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

/**
 * Conditions:
 * - Accepted: the policy is valid (schema aside: references, regexes, variables, duplicates).
 * - Compiled: a bundle was built from this generation; when not, whether the last good one is
 *   still served.
 * - Ready: Accepted and Compiled — what this generation declares is what is served.
 * - Distributed: how many authorizers enforce the served revision (informational; not part of
 *   Ready, since a policy can be ready before any authorizer points at it).
 * - AuditFailures: what authorizers do with a call whose decision cannot be written to the
 *   audit trail (spec.audit.onFailure): True/Tolerated when such calls are let through, False/
 *   Refused (the default) when they are refused. Informational; it says who accepted the risk.
 */
export function desiredPolicyStatus(
  policy: McpSecurityPolicy,
  outcome: BundleOutcome,
  distribution?: Distribution,
  now: Date = new Date(),
): McpSecurityPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  const previous: Condition[] = policy.status?.conditions ?? [];
  const valid = outcome.problems.length === 0;
  const reason = valid ? 'Valid' : reasonFor(outcome.problems);
  const message = valid ? 'policy is valid' : summarize(outcome.problems);
  const served = outcome.servedRevision;
  const stillServing = served ? `; authorizers keep the last good revision ${served}` : '; no bundle is served for it';
  let conditions = setCondition(previous, { type: 'Accepted', status: valid ? 'True' : 'False', reason, message, observedGeneration: generation }, now);

  let compiled: Omit<Condition, 'lastTransitionTime'>;
  if (outcome.current && served) {
    const c = outcome.counts;
    compiled = { type: 'Compiled', status: 'True', reason: 'Compiled', message: `bundle ${served} compiled: ${c.servers} servers, ${c.tools} tools, ${c.policies} rules, ${c.classifiers} classifiers`, observedGeneration: generation };
  } else if (!valid) {
    compiled = { type: 'Compiled', status: 'False', reason: 'InvalidPolicy', message: `not compiled: the policy is invalid${stillServing}`, observedGeneration: generation };
  } else {
    compiled = { type: 'Compiled', status: 'False', reason: 'BundleBuildFailed', message: `bundle build failed: ${outcome.buildError ?? 'unknown error'}${stillServing}`, observedGeneration: generation };
  }
  conditions = setCondition(conditions, compiled, now);
  const ready = valid && compiled.status === 'True';
  conditions = setCondition(conditions, {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason: ready ? 'Ready' : valid ? compiled.reason : reason,
    message: ready ? `policy is valid and served as revision ${served}` : valid ? compiled.message : message,
    observedGeneration: generation,
  }, now);
  if (distribution) {
    conditions = setCondition(conditions, { type: 'Distributed', status: distribution.status, reason: distribution.reason, message: distribution.message, observedGeneration: generation }, now);
  }
  const tolerated = policy.spec.audit?.onFailure === 'Allow';
  conditions = setCondition(conditions, tolerated
    ? { type: 'AuditFailures', status: 'True', reason: 'Tolerated', message: 'spec.audit.onFailure is Allow: a call whose decision cannot be written to the audit trail is let through (logged and counted as a lost record)', observedGeneration: generation }
    : { type: 'AuditFailures', status: 'False', reason: 'Refused', message: 'a call whose decision cannot be written to the audit trail is refused (spec.audit.onFailure: Refuse, the default)', observedGeneration: generation }, now);
  const status: McpSecurityPolicyStatus = { observedGeneration: generation, conditions };
  if (served) status.revision = served;
  status.counts = outcome.counts;
  if (!valid) status.problems = outcome.problems.slice(0, 100);
  return status;
}
