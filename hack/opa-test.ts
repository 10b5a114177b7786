// `make test-policy`: the Rego unit tests and coverage with the real opa CLI. Fails when a test
// fails, when the Rego is not formatted or strict-clean, or when line coverage of the policy
// files (test files excluded, so tests cannot pad the number) is under the threshold.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const threshold = Number(process.env.OPA_COVERAGE_THRESHOLD ?? 90);
const repo = fileURLToPath(new URL('..', import.meta.url));
const policyDir = path.join('pkg', 'policy', 'rego');
const binDir = process.env.TOOLGATE_BIN_DIR ?? path.join(repo, 'build', 'bin');
const opa = path.join(binDir, 'opa');

if (!existsSync(opa)) {
  console.error(`opa not found at ${opa}; run \`make build/bin/opa\` (or set TOOLGATE_BIN_DIR)`);
  process.exit(2);
}

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(opa, args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

let failed = false;

const fmt = run(['fmt', '--list', policyDir]);
if (fmt.stdout.trim() !== '') {
  console.error(`not formatted (run \`opa fmt -w ${policyDir}\`):\n${fmt.stdout}`);
  failed = true;
}
const check = run(['check', '--strict', policyDir]);
if (check.status !== 0) {
  console.error(`opa check --strict failed:\n${check.stdout}${check.stderr}`);
  failed = true;
}

interface TestResult {
  package: string;
  name: string;
  location: { file: string; row: number };
  fail?: boolean;
  error?: { message?: string } | string;
  skip?: boolean;
  duration: number;
}

const tests = run(['test', '--format=json', policyDir]);
let results: TestResult[] = [];
try {
  results = JSON.parse(tests.stdout) as TestResult[];
} catch {
  console.error(`opa test produced no JSON (exit ${tests.status}):\n${tests.stdout}${tests.stderr}`);
  process.exit(1);
}
const bad = results.filter((t) => t.fail || t.error);
for (const t of bad) {
  const why = t.error ? ` — ${typeof t.error === 'string' ? t.error : t.error.message ?? JSON.stringify(t.error)}` : '';
  console.error(`FAIL ${t.package}.${t.name} (${t.location.file}:${t.location.row})${why}`);
}
const passed = results.length - bad.length - results.filter((t) => t.skip).length;
console.log(`opa test: ${passed}/${results.length} passed${bad.length ? `, ${bad.length} failed` : ''}`);
if (bad.length > 0 || tests.status !== 0 || results.length === 0) failed = true;

interface Range { start: { row: number }; end: { row: number } }
interface FileCoverage { covered_lines?: number; not_covered_lines?: number; not_covered?: Range[] }

const cov = run(['test', '--coverage', policyDir]);
// With failing tests opa prints the failures before the JSON report; the report starts at the
// first line that is a lone "{".
const jsonStart = cov.stdout.startsWith('{') ? 0 : cov.stdout.indexOf('\n{\n') + 1;
let report: { files: Record<string, FileCoverage> };
try {
  report = JSON.parse(cov.stdout.slice(jsonStart)) as typeof report;
} catch {
  console.error(`opa test --coverage produced no coverage report (exit ${cov.status}):\n${cov.stdout}${cov.stderr}`);
  process.exit(1);
}
let covered = 0;
let total = 0;
for (const [file, c] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  if (file.endsWith('_test.rego')) continue;
  const yes = c.covered_lines ?? 0;
  const no = c.not_covered_lines ?? 0;
  covered += yes;
  total += yes + no;
  const pct = yes + no === 0 ? 100 : (100 * yes) / (yes + no);
  const gaps = (c.not_covered ?? []).map((r) => (r.start.row === r.end.row ? `${r.start.row}` : `${r.start.row}-${r.end.row}`));
  console.log(`  ${file.padEnd(36)} ${pct.toFixed(1).padStart(5)}%${gaps.length ? `  not covered: ${gaps.join(', ')}` : ''}`);
}
const percent = total === 0 ? 0 : (100 * covered) / total;
console.log(`coverage of policy files: ${percent.toFixed(2)}% (${covered}/${total} lines; threshold ${threshold}%)`);
if (percent < threshold) {
  console.error(`coverage ${percent.toFixed(2)}% is below ${threshold}%`);
  failed = true;
}
process.exit(failed ? 1 : 0);
