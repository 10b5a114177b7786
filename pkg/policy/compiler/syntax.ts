// Checks on the small languages embedded in a policy: RE2 regular expressions (matched in the
// authorizer by re2js, the host builtin of policy.wasm, and by Go's regexp where OPA runs the
// Rego itself), tool globs (glob.match with no delimiters) and argument field paths.
import { fieldPathPattern } from '../../../api/v1alpha1/index.ts';
import { re2 } from '../engine/regex.ts';
import type { NameMatcher, PathSegment } from './types.ts';

/** Constructs JavaScript accepts and RE2 rejects; OPA would fail the whole evaluation on them. */
const unsupported: ReadonlyArray<[RegExp, string]> = [
  [/\(\?<?[=!]/, 'lookaround ((?=, (?!, (?<=, (?<!) is not supported by RE2'],
  [/\(\?>/, 'atomic groups ((?>...)) are not supported by RE2'],
  [/\\[1-9]/, 'backreferences (\\1 ... \\9) are not supported by RE2'],
  [/\\k</, 'named backreferences (\\k<name>) are not supported by RE2'],
  [/[*+?}][+]/, 'possessive quantifiers (*+, ++, ?+) are not supported by RE2'],
];

/** Returns why the pattern cannot be used, or undefined when it is a valid RE2 expression. */
export function re2Problem(pattern: string): string | undefined {
  const stripped = stripEscapedBackslashes(pattern);
  for (const [re, why] of unsupported) {
    if (re.test(stripped)) return `not a valid RE2 regular expression: ${why}`;
  }
  // Then the engine the policy matches with (pkg/policy/engine/regex.ts): a pattern it
  // compiles is one the wasm's host builtin reads, the same way.
  try {
    re2(pattern);
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message}`;
  }
  return undefined;
}

/** Removes `\\` pairs so that an escaped backslash before a digit is not taken for \1. */
function stripEscapedBackslashes(pattern: string): string {
  return pattern.replace(/\\\\/g, '');
}

/** Regex metacharacters in a tenant value must match literally when interpolated into `matches`. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** Returns why the glob cannot be used, or undefined. Mirrors gobwas/glob's grammar. */
export function globProblem(glob: string): string | undefined {
  let depthBrace = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') {
      if (i === glob.length - 1) return 'glob ends with an unfinished escape (\\)';
      i++;
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) return 'glob has an unclosed character class ([)';
      i = close;
    } else if (c === ']') {
      return 'glob has an unmatched ]';
    } else if (c === '{') {
      depthBrace++;
    } else if (c === '}') {
      if (--depthBrace < 0) return 'glob has an unmatched }';
    }
  }
  return depthBrace > 0 ? 'glob has an unclosed {' : undefined;
}

/**
 * Decides a glob against a name when that can be done with certainty: `*`, `?`, `\x` and
 * literal characters. For classes and alternatives it answers undefined ("cannot tell"), and
 * callers must then assume the rule might match; guessing wrong would drop a rule for a tool.
 */
export function globMatches(glob: string, name: string): boolean | undefined {
  const re = globRegex(glob);
  return re === undefined ? undefined : re.test(name);
}

/** The glob as an anchored RegExp, or undefined when it has classes or alternatives (see globMatches). */
function globRegex(glob: string): RegExp | undefined {
  if (/[[\]{}]/.test(glob)) return undefined;
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRegex(glob[++i]!);
    else re += escapeRegex(c);
  }
  return new RegExp(`${re}$`, 'u');
}

const plain = '[^*?[\\]{}\\\\]';
const globShapes: ReadonlyArray<[keyof NameMatcher, RegExp]> = [
  ['exact', new RegExp(`^(${plain}*)$`)],
  ['prefix', new RegExp(`^(${plain}*)\\*$`)],
  ['suffix', new RegExp(`^\\*(${plain}+)$`)],
  ['contains', new RegExp(`^\\*(${plain}+)\\*$`)],
];

/** Splits globs into exact names, prefixes, suffixes, infixes and the rest (see NameMatcher). */
export function compileGlobs(globs: readonly string[]): NameMatcher {
  const lists: Required<NameMatcher> = { exact: [], prefix: [], suffix: [], contains: [], glob: [] };
  for (const g of new Set(globs)) {
    const shape = globShapes.find(([, re]) => re.test(g));
    if (shape) lists[shape[0]].push(shape[1].exec(g)![1]!);
    else lists.glob.push(g);
  }
  const out: NameMatcher = {};
  for (const k of Object.keys(lists) as Array<keyof NameMatcher>) {
    if (lists[k].length > 0) out[k] = [...new Set(lists[k])].sort();
  }
  return out;
}

/** Decides a NameMatcher against a name when possible (undefined: only glob entries could tell). */
export function matcherMatches(m: NameMatcher, name: string): boolean | undefined {
  return matcherTest(m)(name);
}

/**
 * matcherMatches with the matcher's globs compiled once: the compiler asks the same matcher
 * about every tool, and building a RegExp per question was most of the cost.
 */
export function matcherTest(m: NameMatcher): (name: string) => boolean | undefined {
  const exact = new Set(m.exact ?? []);
  const prefix = m.prefix ?? [];
  const suffix = m.suffix ?? [];
  const contains = m.contains ?? [];
  const globs = (m.glob ?? []).map(globRegex);
  const decidable = globs.filter((re) => re !== undefined);
  const undecidable = decidable.length < globs.length;
  return (name) => {
    if (exact.has(name)) return true;
    for (const p of prefix) if (name.startsWith(p)) return true;
    for (const x of suffix) if (name.endsWith(x)) return true;
    for (const c of contains) if (name.includes(c)) return true;
    for (const re of decidable) if (re.test(name)) return true;
    return undecidable ? undefined : false;
  };
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export const maxPathDepth = 12;
const fieldPath = new RegExp(fieldPathPattern);

/** Splits `a.b[*].c[0]` into ["a", "b", "*", "c", 0]; a string on error. */
export function parseFieldPath(path: string): PathSegment[] | string {
  if (!fieldPath.test(path)) return 'must be keys joined by dots, each optionally followed by [*] or [N] (for example recipients[*].email)';
  const segments: PathSegment[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[]+)((?:\[(?:\*|[0-9]+)\])*)$/.exec(part)!;
    segments.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\*|[0-9]+)\]/g)) segments.push(idx[1] === '*' ? '*' : Number(idx[1]));
  }
  if (segments.length > maxPathDepth) return `has ${segments.length} segments; at most ${maxPathDepth} are supported`;
  return segments;
}
