// Runs the MCP conformance suite's server scenarios (@modelcontextprotocol/conformance, pinned in
// package.json) against a URL and reads back what each scenario checked. The suite is run as its
// CLI, the way its users run it; results come from the checks.json it writes per scenario.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export interface Check {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
  details?: unknown;
}

export interface ScenarioResult {
  /** pass: checks ran and none failed; fail: some check failed; missing: the scenario wrote no checks (crashed or timed out). */
  outcome: 'pass' | 'fail' | 'missing';
  checks: Check[];
}

export interface ServerScenario {
  name: string;
  versions: string[];
}

function cliPath(): string {
  const pkg = require.resolve('@modelcontextprotocol/conformance/package.json');
  const bin = (require(pkg) as { bin: Record<string, string> }).bin.conformance!;
  return join(dirname(pkg), bin);
}

export const conformanceVersion: string = (require('@modelcontextprotocol/conformance/package.json') as { version: string }).version;

interface Run { code: number | null; output: string; timedOut: boolean }

function runCli(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output, timedOut }); });
  });
}

/** The server scenarios and the spec versions each covers, as `conformance list --server` prints them. */
export async function listServerScenarios(): Promise<ServerScenario[]> {
  const run = await runCli(['list', '--server'], 30_000);
  const scenarios = [...run.output.matchAll(/^\s+- ([a-z0-9-]+) \[([^\]]+)\]\s*$/gm)].map((m) => ({ name: m[1]!, versions: m[2]!.split(',').map((v) => v.trim()) }));
  if (scenarios.length === 0) throw new Error(`conformance list --server printed no scenarios:\n${run.output}`);
  return scenarios;
}

function outcomeOf(checks: Check[]): ScenarioResult['outcome'] {
  if (checks.length === 0) return 'missing';
  return checks.some((c) => c.status === 'FAILURE') ? 'fail' : 'pass';
}

/** Reads <dir>/server-<scenario>-<timestamp>/checks.json for every scenario that wrote one. */
async function readResults(dir: string): Promise<Map<string, Check[]>> {
  const found = new Map<string, Check[]>();
  if (!existsSync(dir)) return found;
  for (const entry of await readdir(dir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const file = join(dir, entry, 'checks.json');
    if (!m || !existsSync(file)) continue;
    found.set(m[1]!, JSON.parse(await readFile(file, 'utf8')) as Check[]);
  }
  return found;
}

export interface SuiteRunOptions {
  url: string;
  version: string;
  scenarios: readonly string[];
  outputDir: string;
  /** For the run of the whole suite; a scenario that hangs stops those after it, which are then run one by one. */
  suiteTimeoutMs?: number;
  scenarioTimeoutMs?: number;
}

/**
 * Every scenario of one spec version against one URL: first the suite in one process (fast:
 * one CLI start), then each scenario that wrote no result on its own, so one hanging scenario
 * costs its own timeout and hides nothing after it.
 */
export async function runSuite(o: SuiteRunOptions): Promise<Map<string, ScenarioResult>> {
  await rm(o.outputDir, { recursive: true, force: true });
  await mkdir(o.outputDir, { recursive: true });
  await runCli(['server', '--url', o.url, '--suite', 'all', '--spec-version', o.version, '-o', join(o.outputDir, 'suite')], o.suiteTimeoutMs ?? 90_000);
  const found = await readResults(join(o.outputDir, 'suite'));
  for (const scenario of o.scenarios.filter((s) => !found.has(s))) {
    const dir = join(o.outputDir, scenario);
    const run = await runCli(['server', '--url', o.url, '--scenario', scenario, '--spec-version', o.version, '-o', dir], o.scenarioTimeoutMs ?? 30_000);
    const checks = (await readResults(dir)).get(scenario);
    found.set(scenario, checks ?? [{ id: 'harness', name: 'Harness', status: 'FAILURE', errorMessage: run.timedOut ? 'scenario timed out' : `the CLI exited ${run.code} without writing checks: ${run.output.slice(-500)}` }]);
  }
  return new Map(o.scenarios.map((s) => {
    const checks = found.get(s) ?? [];
    const missing = checks.length === 1 && checks[0]!.id === 'harness';
    return [s, { outcome: missing ? 'missing' : outcomeOf(checks), checks }];
  }));
}

/** A failing scenario's reason in one line: each failed check's id and message. */
export function failureReason(r: ScenarioResult): string {
  return r.checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${c.errorMessage ?? 'failed'}`).join('; ');
}
