// spec.audit → data.toolgate.compiled.audit: what the Rego needs of the audit settings. Only
// requirePurposeFor reaches the program (the decision denies a call carrying one of its labels
// that states no purpose, purpose.rego); onFailure is the authorizer's and stays in the
// gateway part. Absent when nothing requires a purpose, so policies without it compile to the
// same bytes as before.
import type { McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { compareCodeUnits } from '../../json/canonical.ts';

export interface CompiledAudit {
  /** Labels (sorted) whose tool calls must state a purpose. */
  requirePurposeFor: { labels: string[] };
}

export function compileAudit(spec: McpSecurityPolicy['spec']): CompiledAudit | undefined {
  const labels = [...new Set(spec.audit?.requirePurposeFor?.labels ?? [])].sort(compareCodeUnits);
  return labels.length > 0 ? { requirePurposeFor: { labels } } : undefined;
}
