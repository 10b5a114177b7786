// Which kinds of operation (tool, resource, prompt, logging) a rule governs.
import type { OperationKind, Policy } from '../../../api/v1alpha1/index.ts';
import { compareCodeUnits } from '../../json/canonical.ts';

/**
 * The kinds a rule governs: as listed, else those its target conditions name, else tools only.
 * The last case is what every rule written before other kinds existed means, so such a rule
 * never starts deciding resource reads or prompts (fail closed for existing policies).
 */
export function ruleKinds(p: Policy): OperationKind[] {
  if (p.when?.kinds && p.when.kinds.length > 0) return [...new Set(p.when.kinds as OperationKind[])].sort(compareCodeUnits);
  const named = new Set<OperationKind>();
  if (p.when?.tools?.length) named.add('tool');
  if (p.when?.resources?.length) named.add('resource');
  if (p.when?.prompts?.length) named.add('prompt');
  return named.size > 0 ? [...named].sort(compareCodeUnits) : ['tool'];
}
