// Tool-name pattern fallback (strategy document §6.1): the last-resort classification for
// tools no profile or override describes. A tool name is split into words (snake_case,
// kebab-case, camelCase, SCREAMING_CASE), each word lower-cased and tried with and without a
// plural/tense suffix; the most dangerous row any word belongs to applies, so
// `read_and_delete` counts as a delete. The Rego does the same with the data this emits;
// patternRowFor is the TypeScript twin the tests hold it to.
import type { CompiledPattern, Hints } from './types.ts';

interface PatternRow {
  name: string;
  words: string[];
  annotations: Hints;
  verb: string;
  labels?: string[];
}

// Most dangerous first. Every mutating row also sets readOnlyHint: false: the table in §6.1
// lists only the hint that motivates each row, but without it a server claiming
// readOnlyHint: true on `delete_repo` would make the call look read-only, and read-only tools
// are not destructive.
export const patternRows: readonly PatternRow[] = [
  { name: 'delete', words: ['delete', 'remove', 'drop', 'destroy', 'purge'], annotations: { readOnlyHint: false, destructiveHint: true }, verb: 'delete' },
  { name: 'execute', words: ['execute', 'exec', 'eval', 'evaluate', 'run'], annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true }, verb: 'create', labels: ['category:exec'] },
  { name: 'irreversible', words: ['merge', 'approve', 'finalize', 'deploy', 'apply'], annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false }, verb: 'update' },
  { name: 'send', words: ['send', 'post', 'reply', 'forward'], annotations: { readOnlyHint: false, openWorldHint: true }, verb: 'create', labels: ['category:communication'] },
  { name: 'share', words: ['share', 'publish', 'grant', 'invite'], annotations: { readOnlyHint: false, openWorldHint: true }, verb: 'create' },
  { name: 'update', words: ['update', 'edit', 'modify', 'patch', 'rename', 'move'], annotations: { readOnlyHint: false }, verb: 'update' },
  { name: 'create', words: ['create', 'insert', 'add', 'write', 'upload', 'push'], annotations: { readOnlyHint: false }, verb: 'create' },
  { name: 'list', words: ['list', 'search', 'query', 'find', 'count'], annotations: { readOnlyHint: true }, verb: 'list' },
  { name: 'read', words: ['get', 'read', 'describe', 'fetch'], annotations: { readOnlyHint: true }, verb: 'get' },
];

/** RE2 and JavaScript read it the same way; the Rego uses it with regex.find_all_string_submatch_n. */
export const wordPattern = '[A-Z]?[a-z]+|[A-Z]+';
/** Suffixes tried off each word (trim_suffix in the Rego), so `sends`, `posted`, `adding` count. */
export const wordSuffixes = ['s', 'es', 'd', 'ed', 'ing'] as const;

export function defaultPatterns(): CompiledPattern[] {
  return patternRows.map((row) => ({
    name: row.name,
    words: [...row.words].sort(),
    annotations: { ...row.annotations },
    verb: row.verb,
    labels: [...(row.labels ?? [])].sort(),
  }));
}

/** word → index of the first (most dangerous) row containing it. */
export function patternWordIndex(patterns: readonly CompiledPattern[]): Record<string, number> {
  const index = Object.create(null) as Record<string, number>;
  patterns.forEach((p, i) => {
    for (const w of p.words) if (!(w in index)) index[w] = i;
  });
  return index;
}

export function nameWords(tool: string): string[] {
  return [...tool.matchAll(new RegExp(wordPattern, 'g'))].map((m) => m[0].toLowerCase());
}

/** The row the Rego applies to a tool name, or undefined when no word matches. */
export function patternRowFor(tool: string, patterns: readonly CompiledPattern[]): CompiledPattern | undefined {
  const index = patternWordIndex(patterns);
  let best: number | undefined;
  for (const w of nameWords(tool)) {
    for (const stem of [w, ...wordSuffixes.map((s) => (w.endsWith(s) ? w.slice(0, -s.length) : w))]) {
      const row = index[stem];
      if (row !== undefined && (best === undefined || row < best)) best = row;
    }
  }
  return best === undefined ? undefined : patterns[best];
}
