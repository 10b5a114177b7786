// Static pre-evaluation of rules per tool. For each tool the compiler knows (and once per
// server for tools it does not), every rule condition is decided as true, false or "depends
// on the call"; rules that can never match are left out of the tool's candidate list, and the
// list ends at the first rule that always matches, since nothing after it can win. The Rego
// still checks every condition of each candidate, so a wrong "maybe" costs time, never
// correctness; only a wrong "false" or "true" could change decisions, hence the care below.
import { matcherMatches } from './syntax.ts';
import { hintNames, type CompiledPattern, type CompiledRule, type CompiledWhen, type Hints, type NameMatcher } from './types.ts';
import type { ToolAccumulator } from './tools.ts';
import { definitionLabels } from './tool-pinning.ts';

type Tri = boolean | undefined;

/** What is certain about calls to one tool before any call is seen. */
export interface StaticView {
  server: string;
  tool?: string;
  /** Hints whose final value no runtime input can change. */
  hints: Hints;
  verb?: string;
  /** Labels every call carries. */
  certainLabels: ReadonlySet<string>;
  /** Labels some call could carry. */
  possibleLabels: ReadonlySet<string>;
}

export function knownToolView(server: string, tool: string, acc: ToolAccumulator, patterns: readonly CompiledPattern[]): StaticView {
  const classifierLabels = acc.classifiers.flatMap((c) => c.labels);
  if (!acc.classified) {
    // Server hints and the name pattern decide at runtime; no hint or verb is certain.
    const patternLabels = patterns.flatMap((p) => p.labels);
    return { server, tool, hints: {}, certainLabels: new Set(), possibleLabels: new Set([...classifierLabels, ...patternLabels, ...definitionLabels]) };
  }
  return {
    server,
    tool,
    hints: effectiveHints(acc.annotations),
    verb: acc.verb,
    certainLabels: new Set(acc.labels),
    possibleLabels: new Set([...acc.labels, ...classifierLabels, ...definitionLabels]),
  };
}

export function wildcardView(server: string, patterns: readonly CompiledPattern[]): StaticView {
  return { server, hints: {}, certainLabels: new Set(), possibleLabels: new Set([...patterns.flatMap((p) => p.labels), ...definitionLabels]) };
}

/**
 * Static hints override whatever the server reports, so they are final, except that the Rego
 * forces destructiveHint to false when readOnlyHint ends up true; destructiveHint is certain
 * only when readOnlyHint is too, or when it is false anyway.
 */
export function effectiveHints(h: Hints): Hints {
  const out: Hints = {};
  for (const k of hintNames) if (h[k] !== undefined && k !== 'destructiveHint') out[k] = h[k];
  if (h.readOnlyHint === true) out.destructiveHint = false;
  else if (h.destructiveHint === false) out.destructiveHint = false;
  else if (h.readOnlyHint === false && h.destructiveHint !== undefined) out.destructiveHint = h.destructiveHint;
  return out;
}

function condition(key: keyof CompiledWhen, value: unknown, view: StaticView): Tri {
  if ((hintNames as readonly string[]).includes(key)) {
    const known = view.hints[key as keyof Hints];
    return known === undefined ? undefined : known === value;
  }
  const list = value as string[];
  switch (key) {
    case 'verbs':
      return view.verb === undefined ? undefined : list.includes(view.verb);
    case 'labelsAll':
      if (list.some((l) => !view.possibleLabels.has(l))) return false;
      return list.every((l) => view.certainLabels.has(l)) ? true : undefined;
    case 'labelsAny':
      if (list.some((l) => view.certainLabels.has(l))) return true;
      return list.some((l) => view.possibleLabels.has(l)) ? undefined : false;
    case 'servers':
      return list.includes(view.server);
    case 'tools':
      return view.tool === undefined ? undefined : matcherMatches(value as NameMatcher, view.tool);
    case 'resources':
    case 'prompts':
      // Views are of tools, and these conditions hold only for their own kind.
      return false;
    default:
      // roles and anything this compiler does not know: decided per call.
      return undefined;
  }
}

export function ruleStatus(rule: CompiledRule, view: StaticView): Tri {
  // Candidate lists are for tools only; a rule governing other kinds can never decide a tool.
  if (!rule.kinds.includes('tool')) return false;
  const entries = Object.entries(rule.when) as Array<[keyof CompiledWhen, unknown]>;
  if (entries.length === 0) return true;
  const results = entries.map(([k, v]) => condition(k, v, view));
  if (rule.match === 'all') {
    if (results.includes(false)) return false;
    return results.every((r) => r === true) ? true : undefined;
  }
  if (results.includes(true)) return true;
  return results.every((r) => r === false) ? false : undefined;
}

/** Indexes of the rules (already in evaluation order) that may decide calls seen through view. */
export function candidatesFor(rules: readonly CompiledRule[], view: StaticView): number[] {
  const out: number[] = [];
  for (let i = 0; i < rules.length; i++) {
    const status = ruleStatus(rules[i]!, view);
    if (status === false) continue;
    out.push(i);
    if (status === true) break;
  }
  return out;
}

/** Interns identical lists so that thousands of tools sharing one list store it once. */
export class ListInterner {
  readonly lists: number[][] = [];
  private readonly index = new Map<string, number>();

  intern(list: number[]): number {
    const key = list.join(',');
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.lists.length;
      this.lists.push(list);
      this.index.set(key, i);
    }
    return i;
  }
}
