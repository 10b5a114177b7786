// The one builtin policy.wasm asks its host for: regex.find_n, through which the Rego matches
// classifier regexes (rego/regex.rego says why not regex.match). Each pattern is compiled once
// with re2js, a port of RE2 (RE2's syntax, linear-time matching, no backtracking), and kept in
// a bounded cache; the compiler validates every pattern with the same engine
// (compiler/syntax.ts), so a pattern the policy serves is one this matcher reads. OPA, running
// the same Rego or the bundle's wasm, answers regex.find_n with Go's regexp: regex.test.ts
// compares the two, and the wasm's own RE2, on a generated corpus.
import { RE2JS } from 're2js';

/**
 * Compiled patterns kept; a policy's patterns are few (profile and rule classifiers). Each may
 * grow a lazy DFA of up to re2js's 8 MiB budget (states are built as inputs need them, and the
 * cache is reset when full), so the bound is on patterns × that budget: 256.
 */
const CACHE_SIZE = 256;
const compiled = new Map<string, RE2JS>();

/** A pattern compiled with re2js, from the cache when it was seen before. Throws on a pattern RE2 rejects. */
export function re2(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (re) return re;
  re = RE2JS.compile(pattern);
  if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
  compiled.set(pattern, re);
  return re;
}

/**
 * regex.find_n(pattern, value, 1): the leftmost match, [] when there is none (Go's
 * FindAllString with n = 1, which OPA implements it as). The program asks only for n = 1;
 * anything else, arguments of the wrong type or a pattern RE2 rejects throw, so the evaluation
 * fails and the call is denied, never "no match".
 */
export function regexFindN(pattern: unknown, value: unknown, n: unknown): string[] {
  if (typeof pattern !== 'string' || typeof value !== 'string') {
    throw new TypeError(`regex.find_n takes a pattern and a value string, got ${typeof pattern} and ${typeof value}`);
  }
  if (n !== 1) throw new RangeError(`regex.find_n: toolgate's host implements n = 1 only (the policy's use), got ${JSON.stringify(n)}`);
  const re = re2(pattern);
  // Whether it matches at all, first: re2js answers that on its lazy DFA (~10 ns a character
  // here), while finding the match text runs its NFA (~600–950 ns a character with the shipped
  // secret detector, so a 4 MiB argument took seconds of CPU). Most values match nothing; only
  // a value that does pays for the text, which find_n must return.
  if (!re.test(value)) return [];
  const m = re.matcher(value);
  return m.find() ? [m.group() ?? ''] : [];
}

/** Whether the pattern matches anywhere in the value, as the policy decides it (regex.find_n with n = 1). */
export const regexMatches = (pattern: string, value: string): boolean => regexFindN(pattern, value, 1).length > 0;

/** The builtins opa-wasm's loadPolicy is given: the only ones a policy.wasm may import from its host. */
export const hostBuiltinImpls: Record<string, (...args: never[]) => unknown> = { 'regex.find_n': regexFindN };
