// Static pre-evaluation of rules per tool. For each tool the compiler knows (and once per
// server for tools it does not), every rule condition is decided as true, false or "depends
// on the call"; rules that can never match are left out of the tool's candidate list, and the
// list ends at the first rule that always matches, since nothing after it can win. The Rego
// still checks every condition of each candidate, so a wrong "maybe" costs time, never
// correctness; only a wrong "false" or "true" could change decisions, hence the care below.
import { matcherTest } from './syntax.ts';
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

/** A rule's static verdict on a view: true (always matches), false (never), undefined (depends on the call). */
export type StaticTest = (view: StaticView) => Tri;
type ConditionTest = StaticTest | Tri;

const hintKeys: ReadonlySet<string> = new Set(hintNames);

/** One condition of `when`, as a constant when no view can change it. */
function conditionTest(key: keyof CompiledWhen, value: unknown): ConditionTest {
  if (hintKeys.has(key)) {
    const hint = key as keyof Hints;
    return (view) => {
      const known = view.hints[hint];
      return known === undefined ? undefined : known === value;
    };
  }
  const list = value as string[];
  switch (key) {
    case 'verbs': {
      const verbs = new Set(list);
      return (view) => (view.verb === undefined ? undefined : verbs.has(view.verb));
    }
    case 'labelsAll':
      return (view) => {
        for (const l of list) if (!view.possibleLabels.has(l)) return false;
        for (const l of list) if (!view.certainLabels.has(l)) return undefined;
        return true;
      };
    case 'labelsAny':
      return (view) => {
        for (const l of list) if (view.certainLabels.has(l)) return true;
        for (const l of list) if (view.possibleLabels.has(l)) return undefined;
        return false;
      };
    case 'servers': {
      const servers = new Set(list);
      return (view) => servers.has(view.server);
    }
    case 'tools': {
      const matches = matcherTest(value as NameMatcher);
      return (view) => (view.tool === undefined ? undefined : matches(view.tool));
    }
    case 'resources':
    case 'prompts':
      // Views are of tools, and these conditions hold only for their own kind.
      return false;
    default:
      // roles and anything this compiler does not know: decided per call.
      return undefined;
  }
}

/**
 * The rule's conditions built once into one test, so that asking it about every tool costs no
 * more than the conditions themselves (the compiler asks tools × rules questions).
 */
export function staticTest(rule: CompiledRule): StaticTest {
  // Candidate lists are for tools only; a rule governing other kinds can never decide a tool.
  if (!rule.kinds.includes('tool')) return () => false;
  const entries = Object.entries(rule.when) as Array<[keyof CompiledWhen, unknown]>;
  if (entries.length === 0) return () => true;
  const tests = entries.map(([k, v]) => conditionTest(k, v));
  const fns = tests.filter((t): t is StaticTest => typeof t === 'function');
  const constants = tests.filter((t): t is Tri => typeof t !== 'function');
  // all: one false decides false, one "depends" keeps it from being true; any: the mirror image.
  const [decisive, neutral] = rule.match === 'all' ? [false, true] : [true, false];
  if (constants.includes(decisive)) return () => decisive;
  const open = constants.includes(undefined);
  return (view) => {
    let unknown = open;
    for (const f of fns) {
      const r = f(view);
      if (r === decisive) return decisive;
      if (r === undefined) unknown = true;
    }
    return unknown ? undefined : neutral;
  };
}

export function ruleStatus(rule: CompiledRule, view: StaticView): Tri {
  return staticTest(rule)(view);
}

/**
 * Indexes of the rules (already in evaluation order) that may decide calls seen through view.
 * The reference that CandidateIndex is held to: it asks every rule.
 */
export function candidatesFor(rules: readonly CompiledRule[], view: StaticView): number[] {
  return walk(rules.map(staticTest), rules.map((_, i) => i), view);
}

/** Candidates among `order` (ascending rule indexes): up to and including the first rule certain to match. */
function walk(tests: readonly StaticTest[], order: Iterable<number>, view: StaticView): number[] {
  const out: number[] = [];
  for (const i of order) {
    const status = tests[i]!(view);
    if (status === false) continue;
    out.push(i);
    if (status === true) break;
  }
  return out;
}

/**
 * candidatesFor without asking every rule about every tool. Most rules of a large policy name
 * their servers, and many their exact tools; such a rule is false for every other server or
 * tool, so it is filed under them and only asked about their views. A rule is filed that way
 * only when the condition decides it alone: under match all, or as the only condition of a
 * match any rule. Everything else is asked as before, in rule order.
 */
export class CandidateIndex {
  private readonly tests: StaticTest[];
  private readonly anyServer = new Filed();
  private readonly byServer = new Map<string, Filed>();

  constructor(rules: readonly CompiledRule[]) {
    this.tests = rules.map(staticTest);
    rules.forEach((rule, i) => {
      if (!rule.kinds.includes('tool')) return;
      const decidesAlone = rule.match === 'all' || Object.keys(rule.when).length === 1;
      const servers = decidesAlone ? rule.when.servers : undefined;
      const tools = decidesAlone ? exactOnly(rule.when.tools) : undefined;
      const places = servers?.map((s) => getOrSet(this.byServer, s, () => new Filed())) ?? [this.anyServer];
      for (const filed of places) filed.add(i, tools);
    });
  }

  /** Same answer as candidatesFor(rules, view). */
  candidates(view: StaticView): number[] {
    const own = this.byServer.get(view.server);
    const lists = view.tool === undefined
      ? [this.anyServer.wildcard, own?.wildcard]
      : [this.anyServer.anyTool, this.anyServer.byTool.get(view.tool), own?.anyTool, own?.byTool.get(view.tool)];
    return walk(this.tests, merge(lists.filter((l): l is number[] => l !== undefined && l.length > 0)), view);
  }
}

/** Rules filed under one server (or any), each list ascending. */
class Filed {
  /** Every rule here: the wildcard view has no tool name to narrow them by. */
  readonly wildcard: number[] = [];
  /** Rules whose tool condition is not a list of exact names. */
  readonly anyTool: number[] = [];
  readonly byTool = new Map<string, number[]>();

  add(rule: number, tools: readonly string[] | undefined): void {
    this.wildcard.push(rule);
    if (tools === undefined) this.anyTool.push(rule);
    else for (const t of tools) getOrSet(this.byTool, t, () => []).push(rule);
  }
}

function getOrSet<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) m.set(k, (v = make()));
  return v;
}

/** The exact names of a matcher that has nothing but exact names. */
function exactOnly(m: NameMatcher | undefined): string[] | undefined {
  if (!m?.exact || m.prefix || m.suffix || m.contains || m.glob) return undefined;
  return m.exact;
}

/** Ascending merge of ascending lists that share no element, lazily: the walk stops early. */
function* merge(nonEmpty: ReadonlyArray<readonly number[]>): Generator<number> {
  if (nonEmpty.length === 1) {
    yield* nonEmpty[0]!;
    return;
  }
  const at = nonEmpty.map(() => 0);
  for (;;) {
    let best = -1;
    for (let j = 0; j < nonEmpty.length; j++) {
      if (at[j]! < nonEmpty[j]!.length && (best < 0 || nonEmpty[j]![at[j]!]! < nonEmpty[best]![at[best]!]!)) best = j;
    }
    if (best < 0) return;
    yield nonEmpty[best]![at[best]!++]!;
  }
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
