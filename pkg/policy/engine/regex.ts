// The host builtins of policy.wasm: regular-expression matching, done here instead of inside
// the wasm (rego-wasm/regex_host.rego says why). Each pattern is compiled once with re2js, a
// port of RE2 (RE2's syntax, linear-time matching, no backtracking), and kept in a bounded
// cache; the compiler validates every pattern with the same engine (compiler/syntax.ts), so a
// pattern the policy serves is one this matcher reads. What OPA's Go regexp (opa test, opa
// eval, the OPA-Envoy plugin) and this engine answer is compared on a generated corpus in
// regex.test.ts and, for whole decisions, in the decision table.
import { RE2JS } from 're2js';

/** Compiled patterns kept; the policy's patterns are few (profile and rule classifiers). */
const CACHE_SIZE = 1024;
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
 * toolgate.regex_match(pattern, value): regex.match's meaning (an unanchored search, as Go's
 * regexp.MatchString). Anything but two strings, or a pattern RE2 rejects, throws: the
 * evaluation fails and the call is denied, never "no match".
 */
export function regexMatch(pattern: unknown, value: unknown): boolean {
  if (typeof pattern !== 'string' || typeof value !== 'string') {
    throw new TypeError(`toolgate.regex_match takes two strings, got ${typeof pattern} and ${typeof value}`);
  }
  return re2(pattern).matcher(value).find();
}

/** Every host builtin: its name, the capability entry opa build needs, and its implementation. */
export const HOST_BUILTINS = [
  {
    name: 'toolgate.regex_match',
    capability: {
      name: 'toolgate.regex_match',
      decl: { type: 'function', args: [{ type: 'string' }, { type: 'string' }], result: { type: 'boolean' } },
    },
    impl: regexMatch,
  },
] as const;

/** The custom builtins opa-wasm's loadPolicy takes. */
export const hostBuiltinImpls: Record<string, (...args: never[]) => unknown> = Object.fromEntries(HOST_BUILTINS.map((b) => [b.name, b.impl]));
