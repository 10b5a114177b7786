// Shape check of a decision returned by the wasm. The Rego always answers with this shape; a
// result that does not have it means a broken bundle, and the caller denies.
import { actions, type Action } from './types.ts';

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isAction = (v: unknown): v is Action => typeof v === 'string' && (actions as readonly string[]).includes(v);

/** Returns what is wrong with the result, or undefined when it is a well-formed decision. */
export function checkDecision(result: unknown): string | undefined {
  if (result === undefined) return 'the decision is undefined';
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return `the decision is not an object: ${JSON.stringify(result)}`;
  const d = result as Record<string, unknown>;
  if (!isAction(d.action)) return `action ${JSON.stringify(d.action)} is not allow, deny or require_approval`;
  if (typeof d.rule !== 'string' || d.rule === '') return 'rule is not a non-empty string';
  for (const k of ['reasons', 'labels', 'approvers', 'sources'] as const) {
    if (!isStrings(d[k])) return `${k} is not an array of strings`;
  }
  if (typeof d.annotations !== 'object' || d.annotations === null || Array.isArray(d.annotations)) return 'annotations is not an object';
  if (!Object.values(d.annotations).every((v) => typeof v === 'boolean')) return 'annotations holds a non-boolean hint';
  if (typeof d.verb !== 'string') return 'verb is not a string';
  if (typeof d.quorum !== 'number' || !Number.isInteger(d.quorum) || d.quorum < 0) return 'quorum is not a non-negative integer';
  if (typeof d.timeout !== 'string') return 'timeout is not a string';
  if (d.enforcement !== 'enforce' && d.enforcement !== 'dryrun') return 'enforcement is not enforce or dryrun';
  if (d.dryRunAction !== undefined && !isAction(d.dryRunAction)) return 'dryRunAction is not an action';
  if (d.action === 'require_approval' && ((d.approvers as string[]).length === 0 || d.quorum === 0 || d.timeout === '')) {
    return 'require_approval without approvers, quorum and timeout cannot be approved';
  }
  return undefined;
}
