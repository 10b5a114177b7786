// The policy compiler: McpSecurityPolicy + McpProfiles → the data document of the fixed Rego
// program (pkg/policy/rego), plus the problems that keep a policy from being served.
import type { McpProfile, McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { compilePolicy } from './compile.ts';
import type { CompileCounts, Problem } from './types.ts';

export { compilePolicy, compileRules, defaultApprovalTimeout, defaultQuorum } from './compile.ts';
export { ruleKinds } from './kinds.ts';
export { compileSession, defaultTaintTtl } from './session.ts';
export { canonicalJson, contentHash } from '../../json/canonical.ts';
export { defaultPatterns, nameWords, patternRowFor, patternWordIndex, wordSuffixes } from './patterns.ts';
export * from './types.ts';

/**
 * Everything compilePolicy would object to, without the data: the reconciler's check for the
 * Accepted/Ready conditions. Same problems, same order, so status and bundle never disagree.
 */
export function validatePolicy(
  policy: McpSecurityPolicy,
  profiles: ReadonlyMap<string, McpProfile>,
): { problems: Problem[]; counts: CompileCounts } {
  const { problems, counts } = compilePolicy(policy, profiles);
  return { problems, counts };
}
