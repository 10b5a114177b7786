// Writes every generated file: crds/*.yaml from the TypeScript API and the chart's CRDs and
// templates from config/. With --check, writes nothing and fails (exit 1) when any is stale.
import { mkdirSync, readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderCrds } from '../api/v1alpha1/crd.ts';
import { renderChart } from './chart.ts';

const root = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const stale: string[] = [];

/** Brings dir/ to exactly `want` (files of the given suffix not in `want` are removed). */
function sync(dir: string, want: Map<string, string>, owned: (name: string) => boolean): void {
  for (const [name, text] of want) {
    const path = join(root, dir, name);
    let have: string | undefined;
    try { have = readFileSync(path, 'utf8'); } catch { have = undefined; }
    if (have === text) continue;
    stale.push(join(dir, name));
    if (!check) { mkdirSync(dirname(path), { recursive: true }); writeFileSync(path, text); }
  }
  for (const sub of new Set([...want.keys()].map((n) => dirname(n)))) {
    let names: string[];
    try { names = readdirSync(join(root, dir, sub)); } catch { names = []; }
    for (const n of names) {
      const rel = sub === '.' ? n : `${sub}/${n}`;
      if (!owned(rel) || want.has(rel)) continue;
      stale.push(join(dir, rel));
      if (!check) unlinkSync(join(root, dir, rel));
    }
  }
}

sync('crds', renderCrds(), (n) => n.endsWith('.yaml'));
sync('charts/toolgate', renderChart(), (n) => n.startsWith('crds/') || n.startsWith('templates/'));

if (check && stale.length > 0) {
  console.error(`generated files are out of date (${stale.join(', ')}): run 'make generate' and commit the result`);
  process.exit(1);
}
if (!check) console.log(stale.length ? `wrote ${stale.join(', ')}` : 'generated files already up to date');
