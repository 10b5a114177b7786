// Writes schemas/ (JSON Schemas of mcp-security.yaml, packs and the toolgate kinds); with
// --check, fails when a file differs from what would be written.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaFiles } from '../pkg/security-file/schema-files.ts';

const dir = join(import.meta.dirname, '..', 'schemas');
const check = process.argv.includes('--check');
let stale = 0;
mkdirSync(dir, { recursive: true });
for (const [name, text] of schemaFiles()) {
  const path = join(dir, name);
  let current: string | undefined;
  try { current = readFileSync(path, 'utf8'); } catch { current = undefined; }
  if (current === text) continue;
  if (check) { console.error(`schemas/${name} is out of date: run node hack/write-json-schemas.ts`); stale++; }
  else { writeFileSync(path, text); console.log(`wrote schemas/${name}`); }
}
process.exit(stale ? 1 : 0);
