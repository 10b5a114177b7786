// Scale run (issue 15): how compile, data.json, the signed bundle and evaluation grow past the
// everyday benchmark — by default 50 servers × 2 000 tools = 100 000 tools and 5 000 rules —
// and where the next limit is. Every phase records the process's peak RSS so far, and the
// bundle is opened exactly as an authorizer opens it (signature checked, size limit enforced).
// Reported, never asserted. Run: `make bench-scale` (knobs in bench/README.md).
import { generateKeyPairSync } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyEngine } from '../pkg/policy/engine/index.ts';
import { ensurePolicyWasm, repoRoot } from '../pkg/policy/engine/policy-wasm.ts';
import { buildBundle, defaultMaxBundleBytes, openBundle } from '../pkg/bundle/bundle.ts';
import { compilePolicy, type CompileResult } from '../pkg/policy/compiler/index.ts';
import { bundleEntrypoints, bundleRoots } from '../operator/src/controllers/policy-bundler.ts';
import { bytes, median, ms, rate, summarize, table, type Summary } from './stats.ts';
import { inputSet, policyFor, profilesFor } from './synth.ts';

const env = (name: string, fallback: string) => Number(process.env[name] ?? fallback);
const config = {
  servers: env('BENCH_SCALE_SERVERS', '50'),
  toolsPerServer: env('BENCH_SCALE_TOOLS_PER_SERVER', '2000'),
  rules: env('BENCH_SCALE_RULES', '5000'),
  compileRuns: env('BENCH_SCALE_COMPILE_RUNS', '3'),
  inputs: env('BENCH_SCALE_INPUTS', '1000'),
  evals: env('BENCH_SCALE_EVALS', '10000'),
};
const keyId = 'bench-scale';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Peak resident set size of this process so far, in bytes. */
const peakRss = () => process.resourceUsage().maxRSS * 1024;

interface Phase {
  phase: string;
  ms: number;
  /** CPU time of this process in the phase: steadier than wall time on a shared machine. */
  cpuMs: number;
  peakRssBytes: number;
  heapUsedBytes: number;
}

async function main(): Promise<void> {
  const loadAtStart = loadavg();
  const tools = config.servers * config.toolsPerServer;
  console.log(`toolgate scale run: ${tools} tools (${config.servers} servers × ${config.toolsPerServer}), ${config.rules} rules, ${cpus().length} CPUs, ${bytes(totalmem())} RAM, load ${loadAtStart[0]!.toFixed(1)}, node ${process.version}`);
  const phases: Phase[] = [];
  const timed = async <T>(phase: string, f: () => T | Promise<T>): Promise<T> => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const out = await f();
    const used = process.cpuUsage(cpu);
    phases.push({ phase, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, peakRssBytes: peakRss(), heapUsedBytes: process.memoryUsage().heapUsed });
    console.log(`  ${phase}: ${ms(phases.at(-1)!.ms)} (CPU ${ms(phases.at(-1)!.cpuMs)}), peak RSS ${bytes(peakRss())}`);
    return out;
  };

  const wasm = readFileSync(ensurePolicyWasm());
  const { policy, profiles } = await timed('material', () => ({
    profiles: profilesFor(config.servers, config.toolsPerServer),
    policy: policyFor({ servers: config.servers, toolsPerServer: config.toolsPerServer, rules: config.rules }),
  }));
  const compileMs: number[] = [];
  const compileCpuMs: number[] = [];
  let result: CompileResult | undefined;
  for (let i = 0; i < Math.max(1, config.compileRuns); i++) {
    result = await timed(`compile ${i + 1}`, () => compilePolicy(policy, profiles));
    compileMs.push(phases.at(-1)!.ms);
    compileCpuMs.push(phases.at(-1)!.cpuMs);
  }
  const data = result?.data;
  if (!data) throw new Error(`scale policy does not compile: ${JSON.stringify(result?.problems.slice(0, 5))}`);
  const compiled = data.toolgate.compiled;
  const lists = compiled.candidateLists;
  const perTool = Object.values(compiled.servers).flatMap((s) => Object.values(s.tools).map((t) => lists[t.candidates]!.length));

  const bundle = await timed('bundle build (canonical data.json, sign, tar, gzip)', () => buildBundle({
    data: data as unknown as Record<string, unknown>, wasm, entrypoints: bundleEntrypoints, roots: bundleRoots,
    metadata: { policy: { namespace: 'bench', name: 'scale' } }, signer: { key: privateKey, algorithm: 'ES256', keyId },
  }));
  const dataJsonBytes = bundle.files.find((f) => f.name === 'data.json')?.data.length ?? 0;
  const inflatedBytes = bundle.files.reduce((n, f) => n + f.data.length, 0);

  // What an authorizer does with the download: refuses it past the size limit, else verifies and parses.
  const verify = { keys: { [keyId]: { key: publicKey.export({ type: 'spki', format: 'pem' }) as string, algorithm: 'ES256' } }, keyId };
  let opened: Awaited<ReturnType<typeof openBundle>> | undefined;
  let openError: string | undefined;
  try {
    opened = await timed(`bundle open as an authorizer does (verify, ≤ ${bytes(defaultMaxBundleBytes)} inflated)`, () => openBundle(bundle.archive, { verify, maxBytes: defaultMaxBundleBytes }));
  } catch (err) {
    openError = (err as Error).message;
    console.log(`  bundle open refused: ${openError}`);
  }

  const engine = new PolicyEngine();
  let evaluate: Summary | undefined;
  let evalError: string | undefined;
  try {
    await timed('engine load (policy.wasm + data)', () => engine.load(opened?.wasm ?? wasm, opened?.data ?? data, bundle.revision));
    const set = inputSet({ servers: config.servers, toolsPerServer: config.toolsPerServer, rules: config.rules, count: config.inputs }).map((s) => s.input);
    evaluate = await timed(`evaluate ×${config.evals}`, () => {
      for (let i = 0; i < 2 * set.length; i++) engine.evaluate(set[i % set.length]!);
      const latencies = new Float64Array(config.evals);
      const started = performance.now();
      for (let i = 0; i < config.evals; i++) {
        const t0 = performance.now();
        engine.evaluate(set[i % set.length]!);
        latencies[i] = performance.now() - t0;
      }
      return summarize(latencies, performance.now() - started);
    });
  } catch (err) {
    evalError = (err as Error).message;
    console.log(`  evaluation failed: ${evalError}`);
  }
  const loadAtEnd = loadavg();

  console.log(table(
    `Scale run: ${tools} tools, ${config.rules} rules`,
    ['compile (median)', 'compile CPU', 'CPU per tool', 'data.json', 'bundle (signed, gz)', 'inflated', 'candidate lists', 'list length (mean/max)', 'eval p50', 'eval p99', 'decisions/s', 'peak RSS'],
    [[
      ms(median(compileMs)), ms(median(compileCpuMs)), `${((median(compileCpuMs) * 1000) / tools).toFixed(1)} µs`, bytes(dataJsonBytes), bytes(bundle.archive.length), bytes(inflatedBytes),
      String(lists.length), `${(perTool.reduce((a, b) => a + b, 0) / perTool.length).toFixed(1)}/${Math.max(...perTool)}`,
      evaluate ? ms(evaluate.p50Ms) : 'n/a', evaluate ? ms(evaluate.p99Ms) : 'n/a', evaluate ? rate(evaluate.perSecond) : 'n/a', bytes(peakRss()),
    ]],
  ));
  const limits = [
    `spec.policies holds at most 2000 rules in the CRD (this run compiles ${config.rules} directly, as kubectl mcp explain of a file would)`,
    `authorizers refuse bundles over ${bytes(defaultMaxBundleBytes)} inflated: this one is ${bytes(inflatedBytes)} (${((100 * inflatedBytes) / defaultMaxBundleBytes).toFixed(0)} %)${openError ? ` — refused: ${openError}` : ''}`,
  ];
  for (const l of limits) console.log(`Limit: ${l}`);

  const out = join(repoRoot, 'build', 'bench', 'scale.json');
  mkdirSync(join(repoRoot, 'build', 'bench'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, totalMemoryBytes: totalmem(),
    loadAverage: { start: loadAtStart, end: loadAtEnd }, config, tools, counts: result!.counts,
    compileMs: { median: median(compileMs), runs: compileMs }, compileCpuMs: { median: median(compileCpuMs), runs: compileCpuMs }, dataJsonBytes, bundleBytes: bundle.archive.length, inflatedBytes, maxBundleBytes: defaultMaxBundleBytes,
    candidateLists: lists.length, candidatesPerTool: { mean: perTool.reduce((a, b) => a + b, 0) / perTool.length, max: Math.max(...perTool) },
    evaluate, openError, evalError, phases, peakRssBytes: peakRss(), limits,
  }, null, 2)}\n`);
  console.log(`\nLoad average (1/5/15 min): ${loadAtStart.map((x) => x.toFixed(1)).join('/')} at start, ${loadAtEnd.map((x) => x.toFixed(1)).join('/')} at end, on ${cpus().length} CPUs. Wrote ${out}`);
}

await main();
