import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { auditLineContracts } from './audit.ts';
import { manifestFileContract } from './bundle.ts';
import { contract, ContractError, StringEnum } from './contract.ts';
import { decisionContract } from './decision.ts';
import { gatewayConfigContract } from './gateway.ts';

const Thing = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    kind: StringEnum(['a', 'b'] as const),
    exact: Type.Optional(Type.Literal(0)),
    items: Type.Array(Type.Object({ 'odd key': Type.Integer(), ok: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
const thing = contract('thing', Thing);
const good = { name: 'x', kind: 'a', items: [{ 'odd key': 1 }] };

describe('contract', () => {
  it('returns the value typed when it conforms', () => {
    expect(thing.check(good)).toBe(good);
    expect(thing.problem(good)).toBeUndefined();
  });

  it.each<[string, unknown, string, string]>([
    ['a missing field', { kind: 'a', items: [] }, 'thing.name', 'is required'],
    ['an unknown field', { ...good, extra: 1 }, 'thing.extra', 'is not a known field'],
    ['a value outside an enum', { ...good, kind: 'c' }, 'thing.kind', 'must be one of "a", "b", got "c"'],
    ['a wrong constant', { ...good, exact: 1 }, 'thing.exact', 'must be 0, got 1'],
    ['a wrong type deep down', { ...good, items: [{ 'odd key': 1 }, { 'odd key': 'x' }] }, 'thing.items[1]["odd key"]', 'must be integer, got string'],
    ['a wrong type at the top', null, 'thing', 'must be object, got null'],
    ['a bound', { ...good, name: '' }, 'thing.name', 'must NOT have fewer than 1 characters'],
  ])('names the path and what is expected for %s', (_name, value, path, expected) => {
    let thrown: unknown;
    try {
      thing.check(value);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ContractError);
    expect(thrown).toMatchObject({ path, expected, message: `${path}: ${expected}` });
    expect(thing.problem(value)).toBe(`${path}: ${expected}`);
  });

  it('puts the caller\'s label at the root of the path', () => {
    expect(thing.problem({ ...good, kind: 1 }, 'data.x')).toBe('data.x.kind: must be string, got number');
  });

  it('compiles every contract toolgate declares (strict ajv: a schema typo fails here)', () => {
    for (const c of [gatewayConfigContract, manifestFileContract, decisionContract, ...Object.values(auditLineContracts).flatMap((byType) => Object.values(byType))]) {
      expect(c.problem([]), c.name).toMatch(/must be object, got array$/);
    }
  });
});
