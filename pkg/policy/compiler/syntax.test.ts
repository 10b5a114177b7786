import { describe, expect, it } from 'vitest';
import { compileGlobs, globMatches, globProblem, matcherMatches, maxPathDepth, parseFieldPath, quoteMeta, re2Problem } from './syntax.ts';

describe('re2Problem', () => {
  it.each([
    ['(?=x)', /lookaround/],
    ['a(?!b)', /lookaround/],
    ['(?<=@)acme', /lookaround/],
    ['(?<!@)acme', /lookaround/],
    ['(a)\\1', /backreferences/],
    ['(?<n>a)\\k<n>', /named backreferences/],
    ['(?>a+)b', /atomic/],
    ['a++', /possessive/],
    ['(unclosed', /not a valid regular expression/],
    ['[z-a]', /not a valid regular expression/],
  ])('rejects %s', (re, why) => {
    expect(re2Problem(re)).toMatch(why);
  });

  it.each([
    ['AKIA[0-9A-Z]{16}'],
    ['(?i)private key'],
    ['(?P<user>[^@]+)@acme\\.com'],
    ['\\Aexact\\z'],
    ['[[:alpha:]]+'],
    ['\\\\1 is an escaped backslash then 1'],
    ['\\Q1+1=2\\E'],
    ['^[a-z]+://(169\\.254\\.169\\.254)'],
  ])('accepts %s', (re) => {
    expect(re2Problem(re)).toBeUndefined();
  });
});

describe('quoteMeta', () => {
  it('makes every metacharacter literal', () => {
    const s = 'a.b*c+d?(e)|[f]{g}^h$\\i';
    expect(new RegExp(`^${quoteMeta(s)}$`).test(s)).toBe(true);
    expect(new RegExp(quoteMeta('acme.com')).test('acmexcom')).toBe(false);
  });
});

describe('globs', () => {
  it.each([
    ['gmail/*', undefined],
    ['*_booking', undefined],
    ['[ab]*', undefined],
    ['{a,b}', undefined],
    ['\\*', undefined],
    ['[ab', /unclosed character class/],
    ['a]', /unmatched \]/],
    ['{a,b', /unclosed \{/],
    ['a}', /unmatched \}/],
    ['a\\', /unfinished escape/],
  ])('globProblem(%s)', (glob, want) => {
    if (want === undefined) expect(globProblem(glob)).toBeUndefined();
    else expect(globProblem(glob)).toMatch(want);
  });

  it.each([
    ['*_booking', 'modify_booking', true],
    ['*_booking', 'booking', false],
    ['send_*', 'send_email', true],
    ['*', 'files.read/all', true],
    ['s?nd', 'send', true],
    ['s?nd', 'seend', false],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['a.b', 'axb', false],
    ['[ab]x', 'ax', undefined],
    ['{a,b}x', 'ax', undefined],
  ] as const)('globMatches(%s, %s) = %s', (glob, name, want) => {
    expect(globMatches(glob, name)).toBe(want);
  });
});

describe('parseFieldPath', () => {
  it.each([
    ['to', ['to']],
    ['message.recipients[*].email', ['message', 'recipients', '*', 'email']],
    ['items[0].amount', ['items', 0, 'amount']],
    ['matrix[*][2]', ['matrix', '*', 2]],
    ['0.x', ['0', 'x']],
  ] as const)('%s', (path, want) => {
    expect(parseFieldPath(path)).toEqual(want);
  });

  it.each([['to..cc'], ['[0]'], ['a[x]'], ['a b'], ['']])('rejects %j', (path) => {
    expect(parseFieldPath(path)).toMatch(/keys joined by dots/);
  });

  it('rejects paths deeper than the Rego unrolls', () => {
    const deep = Array.from({ length: maxPathDepth }, (_, i) => `k${i}`);
    expect(parseFieldPath(deep.join('.'))).toHaveLength(maxPathDepth);
    expect(parseFieldPath([...deep, 'one-more'].join('.'))).toMatch(/at most 12/);
  });
});

describe('compileGlobs', () => {
  it('splits globs by shape and keeps the rest for glob.match', () => {
    expect(compileGlobs(['send_email', 'send_email', 'get_*', '*_booking', '*crm*', '*', 's?nd', '[ab]*', 'a\\*', '**', '{a,b}_x'])).toEqual({
      exact: ['send_email'],
      prefix: ['', 'get_'],
      suffix: ['_booking'],
      contains: ['crm'],
      glob: ['**', '[ab]*', 'a\\*', 's?nd', '{a,b}_x'],
    });
    expect(compileGlobs([])).toEqual({});
  });

  it.each([
    [['send_*'], 'send_email', true],
    [['send_*'], 'resend', false],
    [['*_booking'], 'cancel_booking', true],
    [['*crm*'], 'delete_crm_record', true],
    [['exact'], 'exactly', false],
    [['s?nd'], 'send', true],
    [['s?nd', 'x*'], 'sxnd!', false],
    [['[ab]x'], 'ax', undefined],
    [['[ab]x', 'a*'], 'ax', true],
  ] as const)('matcherMatches(%j, %s) = %s', (globs, name, want) => {
    expect(matcherMatches(compileGlobs(globs), name)).toBe(want);
  });
});
