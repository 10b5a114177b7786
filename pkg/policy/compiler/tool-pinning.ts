// spec.toolPinning → data.toolgate.compiled.toolPinning: what the Rego answers for a tools/call
// whose tool's listed definition is not the accepted one (input.toolChange, set by the
// authorizer from its McpToolPins). Absent when the policy does not pin tools.
import type { McpSecurityPolicy, Problem } from '../../../api/v1alpha1/index.ts';
import { compareCodeUnits } from '../../json/canonical.ts';
import { defaultApprovalTimeout, defaultQuorum } from './compile.ts';

/**
 * Labels the authorizer may put on any tool from its listed definition (input.toolLabels): the
 * poisoning detector's. Any tool's calls can carry them, so rule candidates keep rules on them.
 */
export const poisoningLabel = 'risk:poisoning';
export const definitionLabels: readonly string[] = [poisoningLabel];

export interface CompiledToolPinning {
  onChange: 'deny' | 'require_approval';
  approvers: string[];
  quorum: number;
  timeout: string;
}

export function compileToolPinning(spec: McpSecurityPolicy['spec']): CompiledToolPinning | undefined {
  const p = spec.toolPinning;
  if (!p) return undefined;
  if (p.onChange !== 'RequireApproval') return { onChange: 'deny', approvers: [], quorum: 0, timeout: '' };
  return {
    onChange: 'require_approval',
    approvers: [...new Set(p.approvers ?? [])].sort(compareCodeUnits),
    quorum: p.quorum ?? defaultQuorum,
    timeout: p.timeout ?? defaultApprovalTimeout,
  };
}

/** What the CRD's CEL rule also says, for policies that never met the API server (kubectl mcp explain of a file). */
export function toolPinningProblems(spec: McpSecurityPolicy['spec']): Problem[] {
  const p = spec.toolPinning;
  if (p?.onChange === 'RequireApproval' && !(p.approvers?.length)) {
    return [{ field: 'spec.toolPinning.approvers', message: 'onChange RequireApproval needs approvers: the groups whose members may approve a call to a changed tool' }];
  }
  return [];
}
