// Checks docs/compliance.md: every piece of evidence it names must exist, so the map of controls
// to tests cannot silently rot when a test is renamed or removed. Run by `make verify`.
//
// The doc's tables have the columns | # | Control | Status | Evidence |. Status is proven,
// partial or open; proven and partial rows name at least one piece of evidence. Evidence:
//   `path/to/file.test.ts` › "exact test title"       an it()/test() of that title in that file
//   `path/to/cases.ts` › case "exact case name"        a named case of a table-driven test
// Exit 0 with the counts, or 1 listing every problem.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Status = 'proven' | 'partial' | 'open';
export interface Evidence { file: string; title: string; kind: 'test' | 'case' }
export interface Control { line: number; id: string; control: string; status: Status; evidence: Evidence[] }

const evidencePattern = /`([^`]+)` › (case )?"([^"]+)"/g;

export function parseCompliance(text: string): { controls: Control[]; problems: string[] } {
  const controls: Control[] = [];
  const problems: string[] = [];
  // Only tables whose header starts with "#" are control tables (others document formats).
  let inControls = false;
  let previous = '';
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const header = raw.startsWith('|') && !previous.startsWith('|');
    previous = raw;
    if (header) inControls = /^\|\s*#\s*\|/.test(raw);
    if (!inControls || header || !raw.startsWith('|') || /^\|\s*-/.test(raw)) return;
    const cells = raw.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 4) {
      problems.push(`line ${line}: a control row has ${cells.length} cells, expected 4 (# | Control | Status | Evidence)`);
      return;
    }
    const [id, control, statusCell, evidenceCell] = cells as [string, string, string, string];
    const status = statusCell.replace(/\*/g, '').toLowerCase();
    if (status !== 'proven' && status !== 'partial' && status !== 'open') {
      problems.push(`line ${line}: control ${id}: status "${statusCell}" is not proven, partial or open`);
      return;
    }
    const evidence = [...evidenceCell.matchAll(evidencePattern)].map((m) => ({ file: m[1] as string, title: m[3] as string, kind: (m[2] ? 'case' : 'test') as Evidence['kind'] }));
    if (status !== 'open' && evidence.length === 0) problems.push(`line ${line}: control ${id} is ${status} but names no test`);
    controls.push({ line, id, control, status, evidence });
  });
  if (controls.length === 0) problems.push('no control rows found');
  return { controls, problems };
}

const quoted = (title: string) => [`'${title.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, `"${title.replace(/"/g, '\\"')}"`, `\`${title}\``];

/** Whether the file holds a test (it/test) or a named case with exactly this title. */
export function holds(source: string, e: Evidence): boolean {
  if (e.kind === 'case') return quoted(e.title).some((q) => source.includes(`name: ${q}`) || source.includes(`[${q},`) || source.includes(`${q}: `));
  return quoted(e.title).some((q) => ['it(', 'test(', 'it.skip(', 'it.concurrent('].some((fn) => source.includes(`${fn}${q}`)));
}

export function checkEvidence(controls: readonly Control[], root: string): string[] {
  const problems: string[] = [];
  const cache = new Map<string, string | undefined>();
  for (const c of controls) {
    for (const e of c.evidence) {
      if (!cache.has(e.file)) cache.set(e.file, existsSync(join(root, e.file)) ? readFileSync(join(root, e.file), 'utf8') : undefined);
      const source = cache.get(e.file);
      if (source === undefined) problems.push(`line ${c.line}: control ${c.id}: ${e.file} does not exist`);
      else if (e.kind === 'test' && !e.file.endsWith('.test.ts')) problems.push(`line ${c.line}: control ${c.id}: ${e.file} is not a test file (name a case with › case "...")`);
      else if (!holds(source, e)) problems.push(`line ${c.line}: control ${c.id}: ${e.file} has no ${e.kind === 'case' ? 'case' : 'test'} titled "${e.title}"`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const root = join(import.meta.dirname, '..');
  const doc = 'docs/compliance.md';
  const { controls, problems } = parseCompliance(readFileSync(join(root, doc), 'utf8'));
  problems.push(...checkEvidence(controls, root));
  if (problems.length > 0) {
    process.stderr.write(`${doc}: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  const count = (s: Status) => controls.filter((c) => c.status === s).length;
  process.stdout.write(`${doc}: ${controls.length} controls: ${count('proven')} proven, ${count('partial')} partial, ${count('open')} open; every named test exists\n`);
}
