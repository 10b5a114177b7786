import { describe, expect, it } from 'vitest';
import { checkDecision } from './check.ts';
import { denyDecision } from './engine.ts';
import type { Decision } from './types.ts';

const good: Decision = {
  action: 'require_approval', rule: 'r', reasons: ['why'], labels: ['a:b'], annotations: { readOnlyHint: false },
  verb: 'create', approvers: ['ops'], quorum: 1, timeout: '60m', enforcement: 'enforce', sources: [],
};

describe('checkDecision', () => {
  it('accepts a well-formed decision and the fail-closed one', () => {
    expect(checkDecision(good)).toBeUndefined();
    expect(checkDecision({ ...good, action: 'allow', enforcement: 'dryrun', dryRunAction: 'deny' })).toBeUndefined();
    expect(checkDecision(denyDecision('toolgate:x', 'because'))).toBeUndefined();
  });

  it.each([
    ['undefined', undefined, 'the decision is undefined'],
    ['null', null, 'decision: must be object, got null'],
    ['an array', [good], 'decision: must be object, got array'],
    ['a bad action', { ...good, action: 'maybe' }, 'decision.action: must be one of "allow", "deny", "require_approval", got "maybe"'],
    ['an empty rule', { ...good, rule: '' }, 'decision.rule: must NOT have fewer than 1 characters'],
    ['non-string reasons', { ...good, reasons: [1] }, 'decision.reasons[0]: must be string, got number'],
    ['labels missing', { ...good, labels: undefined }, 'decision.labels: is required'],
    ['approvers not an array', { ...good, approvers: 'ops' }, 'decision.approvers: must be array, got string'],
    ['sources missing', { ...good, sources: undefined }, 'decision.sources: is required'],
    ['annotations an array', { ...good, annotations: [] }, 'decision.annotations: must be object, got array'],
    ['a non-boolean hint', { ...good, annotations: { readOnlyHint: 'no' } }, 'decision.annotations.readOnlyHint: must be boolean, got string'],
    ['a non-boolean unknown hint', { ...good, annotations: { futureHint: 1 } }, 'decision.annotations.futureHint: must be boolean, got number'],
    ['verb missing', { ...good, verb: undefined }, 'decision.verb: is required'],
    ['a fractional quorum', { ...good, quorum: 1.5 }, 'decision.quorum: must be integer, got number'],
    ['a negative quorum', { ...good, quorum: -1 }, 'decision.quorum: must be >= 0'],
    ['timeout a number', { ...good, timeout: 60 }, 'decision.timeout: must be string, got number'],
    ['an unknown enforcement', { ...good, enforcement: 'audit' }, 'decision.enforcement: must be one of "enforce", "dryrun", got "audit"'],
    ['a bad dryRunAction', { ...good, dryRunAction: 'maybe' }, 'decision.dryRunAction: must be one of "allow", "deny", "require_approval", got "maybe"'],
    ['a policy that is not an object', { ...good, policy: 'acme' }, 'decision.policy: must be object, got string'],
    ['an approval nobody can give', { ...good, approvers: [] }, 'require_approval without approvers, quorum and timeout cannot be approved'],
    ['an approval without timeout', { ...good, timeout: '' }, 'require_approval without approvers, quorum and timeout cannot be approved'],
  ])('rejects %s, naming the field', (_name, value, why) => {
    expect(checkDecision(value)).toBe(why);
  });

  it('accepts fields a newer Rego may add', () => {
    expect(checkDecision({ ...good, policy: { namespace: 'a', name: 'b' }, scopes: ['x'] })).toBeUndefined();
  });
});
