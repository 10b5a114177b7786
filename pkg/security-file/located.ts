// Reading a YAML document node by node with the line of every key, so that each field the
// importer cannot map is reported where the user wrote it, and nothing is dropped silently: every
// map is read through `entries`, which refuses keys the caller did not ask for.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';

export interface FileProblem {
  /** Dotted path of the field at fault, as written in the file (for example `policies[2].when.verb`). */
  field: string;
  /** 1-based line of the field, 0 when the file has no position for it. */
  line: number;
  message: string;
}

/** The file cannot be imported: every problem found, each naming its field and line. */
export class SecurityFileError extends Error {
  override name = 'SecurityFileError';
  readonly problems: FileProblem[];
  constructor(file: string, problems: FileProblem[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  line ${p.line}: ${p.field || '(document)'}: ${p.message}`).join('\n')}`);
    this.problems = problems;
  }
}

export type YamlNode = Node | null | undefined;

export class Located {
  readonly problems: FileProblem[] = [];
  readonly doc: Document.Parsed;
  private readonly lines: LineCounter;

  readonly file: string;

  constructor(file: string, text: string) {
    this.file = file;
    this.lines = new LineCounter();
    // uniqueKeys: a key written twice is an error, never "the last one wins".
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false, strict: true });
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      const line = this.lines.linePos(e.pos[0]).line;
      const message = e.code === 'DUPLICATE_KEY' ? `a key is written twice (${e.message.split('\n')[0]})` : e.message.split('\n')[0] ?? e.message;
      this.problems.push({ field: '', line, message });
    }
  }

  get root(): YamlNode {
    return this.doc.contents as YamlNode;
  }

  lineOf(node: YamlNode | Pair): number {
    const range = node && 'range' in node ? node.range : node && 'key' in node ? (node.key as Node | null)?.range : undefined;
    return range ? this.lines.linePos(range[0]).line : 0;
  }

  problem(field: string, node: YamlNode | Pair, message: string): void {
    this.problems.push({ field, line: this.lineOf(node), message });
  }

  fail(): void {
    if (this.problems.length) throw new SecurityFileError(this.file, this.problems);
  }

  /**
   * The entries of a map, keyed by their text. Keys outside `allowed` are problems naming the
   * known keys, so a misspelt `not_contain` is an error rather than a classifier that never fires.
   */
  entries(node: YamlNode, field: string, allowed?: readonly string[]): Array<{ key: string; value: YamlNode; pair: Pair; field: string }> {
    if (node === null || node === undefined) return [];
    if (!isMap(node)) {
      this.problem(field, node, `expected a map, got ${describe(node)}`);
      return [];
    }
    const out = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.problem(field, pair, `keys must be text, got ${describe(keyNode)}`);
        continue;
      }
      const key = keyNode.value;
      const sub = field ? `${field}.${key}` : key;
      if (allowed && !allowed.includes(key)) {
        this.problem(sub, pair, `unknown key "${key}"${suggestion(key, allowed)}; known keys here: ${allowed.join(', ')}`);
        continue;
      }
      out.push({ key, value: pair.value as YamlNode, pair, field: sub });
    }
    return out;
  }

  items(node: YamlNode, field: string): Array<{ value: YamlNode; field: string }> {
    if (!isSeq(node)) {
      this.problem(field, node, `expected a list, got ${describe(node)}`);
      return [];
    }
    return node.items.map((value, i) => ({ value: value as YamlNode, field: `${field}[${i}]` }));
  }

  str(node: YamlNode, field: string, opts: { pattern?: RegExp; what?: string; nonEmpty?: boolean } = {}): string | undefined {
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.problem(field, node, `expected text, got ${describe(node)}${isScalar(node) && node.value !== null ? ' (quote it)' : ''}`);
      return undefined;
    }
    if ((opts.nonEmpty ?? true) && node.value === '') {
      this.problem(field, node, 'must not be empty');
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(node.value)) {
      this.problem(field, node, `${JSON.stringify(node.value)} is not ${opts.what ?? `of the form ${opts.pattern.source}`}`);
      return undefined;
    }
    return node.value;
  }

  bool(node: YamlNode, field: string): boolean | undefined {
    if (!isScalar(node) || typeof node.value !== 'boolean') {
      this.problem(field, node, `expected true or false, got ${describe(node)}`);
      return undefined;
    }
    return node.value;
  }

  num(node: YamlNode, field: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.problem(field, node, `expected a number, got ${describe(node)}`);
      return undefined;
    }
    const v = node.value;
    if (opts.integer && !Number.isInteger(v)) this.problem(field, node, `expected a whole number, got ${v}`);
    else if (opts.min !== undefined && v < opts.min) this.problem(field, node, `must be at least ${opts.min}, got ${v}`);
    else if (opts.max !== undefined && v > opts.max) this.problem(field, node, `must be at most ${opts.max}, got ${v}`);
    else return v;
    return undefined;
  }

  /** A list of distinct texts; a repeated entry is a problem (the CRDs' sets refuse it too). */
  strList(node: YamlNode, field: string, opts: { pattern?: RegExp; what?: string } = {}): string[] | undefined {
    const out: string[] = [];
    let ok = isSeq(node);
    for (const { value, field: f } of this.items(node, field)) {
      const s = this.str(value, f, opts);
      if (s === undefined) ok = false;
      else if (out.includes(s)) {
        this.problem(f, value, `${JSON.stringify(s)} is listed twice`);
        ok = false;
      } else out.push(s);
    }
    return ok ? out : undefined;
  }
}

function describe(node: YamlNode): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'null' : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return 'an alias';
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const flat = (s: string) => s.replace(/[_-]/g, '').toLowerCase();

/** The known key a misspelling most likely meant (camelCase for snake_case and back, case). */
function suggestion(key: string, allowed: readonly string[]): string {
  const hit = allowed.find((a) => flat(a) === flat(key) || snake(a) === key || a === snake(key));
  return hit ? ` (did you mean "${hit}"?)` : '';
}
