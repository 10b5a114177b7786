// Writes crds/*.yaml from the TypeScript API. With --check, fails (exit 1) when they are stale.
import { readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrds } from '../api/v1alpha1/crd.ts';

const dir = join(import.meta.dirname, '..', 'crds');
const check = process.argv.includes('--check');
const want = renderCrds();
const stale: string[] = [];
const present = new Set(readdirSync(dir).filter((f) => f.endsWith('.yaml')));
for (const [name, text] of want) {
  let have: string | undefined;
  try { have = readFileSync(join(dir, name), 'utf8'); } catch { have = undefined; }
  if (have === text) continue;
  stale.push(name);
  if (!check) writeFileSync(join(dir, name), text);
}
for (const name of present) {
  if (want.has(name)) continue;
  stale.push(name);
  if (!check) unlinkSync(join(dir, name));
}
if (check && stale.length > 0) {
  console.error(`crds/ is out of date with api/v1alpha1 (${stale.join(', ')}): run 'make generate' and commit the result`);
  process.exit(1);
}
if (!check) console.log(stale.length ? `wrote ${stale.join(', ')}` : 'crds/ already up to date');
