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
    ['undefined', undefined, /undefined/],
    ['null', null, /not an object/],
    ['an array', [good], /not an object/],
    ['a bad action', { ...good, action: 'maybe' }, /action/],
    ['an empty rule', { ...good, rule: '' }, /rule/],
    ['non-string reasons', { ...good, reasons: [1] }, /reasons/],
    ['labels missing', { ...good, labels: undefined }, /labels/],
    ['approvers not an array', { ...good, approvers: 'ops' }, /approvers/],
    ['sources missing', { ...good, sources: undefined }, /sources/],
    ['annotations an array', { ...good, annotations: [] }, /annotations/],
    ['a non-boolean hint', { ...good, annotations: { readOnlyHint: 'no' } }, /non-boolean/],
    ['verb missing', { ...good, verb: undefined }, /verb/],
    ['a fractional quorum', { ...good, quorum: 1.5 }, /quorum/],
    ['timeout a number', { ...good, timeout: 60 }, /timeout/],
    ['an unknown enforcement', { ...good, enforcement: 'audit' }, /enforcement/],
    ['a bad dryRunAction', { ...good, dryRunAction: 'maybe' }, /dryRunAction/],
    ['an approval nobody can give', { ...good, approvers: [] }, /cannot be approved/],
    ['an approval without timeout', { ...good, timeout: '' }, /cannot be approved/],
  ])('rejects %s', (_name, value, why) => {
    expect(checkDecision(value)).toMatch(why);
  });
});
