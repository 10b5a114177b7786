// Shape check of a decision returned by the wasm, against its contract
// (pkg/contracts/decision.ts). The Rego always answers with this shape; a result that does not
// have it means a broken bundle, and the caller denies.
import { decisionContract } from '../../contracts/decision.ts';
import type { Decision } from './types.ts';

/** Returns what is wrong with the result, or undefined when it is a well-formed decision. */
export function checkDecision(result: unknown): string | undefined {
  if (result === undefined) return 'the decision is undefined';
  const problem = decisionContract.problem(result);
  if (problem) return problem;
  // What a schema cannot say: a hold nobody could release.
  const d = result as Decision;
  if (d.action === 'require_approval' && (d.approvers.length === 0 || d.quorum === 0 || d.timeout === '')) {
    return 'require_approval without approvers, quorum and timeout cannot be approved';
  }
  return undefined;
}
