import { describe, expect, it } from 'vitest';
import { jsonEqual, setCondition } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T01:00:00Z');

describe('setCondition', () => {
  it('adds a condition with the transition time', () => {
    const out = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Valid', message: 'ok', observedGeneration: 1 }, t0);
    expect(out).toEqual([{ type: 'Ready', status: 'True', reason: 'Valid', message: 'ok', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }]);
  });

  it('keeps lastTransitionTime when the status does not flip, even if reason/message change', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2 }, t1);
    expect(b[0]).toMatchObject({ reason: 'B', message: 'b', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' });
  });

  it('moves lastTransitionTime when the status flips and leaves other types alone', () => {
    let c = setCondition(undefined, { type: 'Accepted', status: 'True', reason: 'Valid', message: '' }, t0);
    c = setCondition(c, { type: 'Ready', status: 'False', reason: 'X', message: '' }, t0);
    c = setCondition(c, { type: 'Ready', status: 'True', reason: 'Y', message: '' }, t1);
    expect(c.map((x) => [x.type, x.lastTransitionTime])).toEqual([
      ['Accepted', '2026-01-01T00:00:00Z'],
      ['Ready', '2026-01-01T01:00:00Z'],
    ]);
  });
});

describe('jsonEqual', () => {
  it('ignores key order and undefined members but not array order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});
