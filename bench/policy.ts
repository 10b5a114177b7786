// Policy-engine benchmark (issue 3): in-process evaluation at 10/100/1000 rules over 10 000
// tools, compile time, bundle size, and toolgate vs a real `opa run --server` over HTTP on the
// same signed bundle, same inputs, same load generator. Reported, never asserted.
// Run: `make bench-policy` (see bench/README.md for what each figure means and the knobs).
import { generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { PolicyEngine, type PolicyInput } from '../pkg/policy/engine/index.ts';
import { ensurePolicyWasm, opaBinary, repoRoot } from '../pkg/policy/engine/policy-wasm.ts';
import { buildBundle } from '../operator/src/bundle/index.ts';
import { compilePolicy, type CompiledData } from '../pkg/policy/compiler/index.ts';
import { bundleEntrypoints, bundleRoots } from '../operator/src/controllers/policy-bundler.ts';
import { postJson, runLoad, type LoadResult } from './load.ts';
import { opaEngine, startOpa, startToolgate, type Service } from './servers.ts';
import { formatLoad, loadSpan, type LoadSpan } from './report.ts';
import { bytes, median, ms, rate, summarize, table, type Summary } from './stats.ts';
import { inputSet, policyFor, profilesFor, type InputKind } from './synth.ts';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const ints = (s: string) => s.split(',').map((x) => Number.parseInt(x.trim(), 10));
const config = {
  servers: 50,
  toolsPerServer: 200,
  sizes: ints(env('BENCH_SIZES', '10,100,1000')),
  inputs: Number(env('BENCH_INPUTS', '1000')),
  evals: Number(env('BENCH_EVALS', '20000')),
  compileRuns: Number(env('BENCH_COMPILE_RUNS', '5')),
  httpRules: Number(env('BENCH_HTTP_RULES', '1000')),
  concurrency: ints(env('BENCH_CONCURRENCY', '1,16')),
  requests: Number(env('BENCH_REQUESTS', '10000')),
  warmup: Number(env('BENCH_WARMUP', '1000')),
};
const keyId = 'bench';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

interface SizeResult {
  rules: number;
  tools: number;
  classifiers: number;
  compileMs: number;
  /** CPU time of the compile (median): steadier than wall time when the machine is shared. */
  compileCpuMs: number;
  dataJsonBytes: number;
  bundleBytes: number;
  bundleBuildMs: number;
  evaluate: Summary;
  loadAverage: LoadSpan;
}

function compileTimed(rules: number): { data: CompiledData; ms: number[]; cpuMs: number[]; counts: { tools: number; classifiers: number } } {
  const profiles = profilesFor(config.servers, config.toolsPerServer);
  const policy = policyFor({ servers: config.servers, toolsPerServer: config.toolsPerServer, rules });
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let last: ReturnType<typeof compilePolicy> | undefined;
  for (let i = 0; i < Math.max(1, config.compileRuns); i++) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    last = compilePolicy(policy, profiles);
    const used = process.cpuUsage(cpu);
    times.push(performance.now() - started);
    cpuTimes.push((used.user + used.system) / 1000);
  }
  if (!last?.data) throw new Error(`synthetic policy with ${rules} rules does not compile: ${JSON.stringify(last?.problems.slice(0, 5))}`);
  return { data: last.data, ms: times, cpuMs: cpuTimes, counts: last.counts };
}

function evaluateTimed(engine: PolicyEngine, inputs: readonly PolicyInput[]): Summary {
  for (let i = 0; i < 3 * inputs.length; i++) engine.evaluate(inputs[i % inputs.length]!);
  const latencies = new Float64Array(config.evals);
  const started = performance.now();
  for (let i = 0; i < config.evals; i++) {
    const t0 = performance.now();
    engine.evaluate(inputs[i % inputs.length]!);
    latencies[i] = performance.now() - t0;
  }
  return summarize(latencies, performance.now() - started);
}

async function bundleFor(data: CompiledData, wasm: Buffer) {
  const started = performance.now();
  const bundle = await buildBundle({
    // As the operator's PolicyBundler builds them: same entrypoints and roots, signed.
    data: data as unknown as Record<string, unknown>, wasm, entrypoints: bundleEntrypoints, roots: bundleRoots,
    metadata: { policy: { namespace: 'bench', name: 'bench' } }, signer: { key: privateKey, algorithm: 'ES256', keyId },
  });
  return { bundle, ms: performance.now() - started };
}

interface Mismatch { index: number; kind: InputKind; input: PolicyInput; opa: unknown; toolgate: unknown }

/** Asks both services about every input once and lists where their answers differ. */
async function compareDecisions(opa: Service, toolgate: Service, set: ReadonlyArray<{ kind: InputKind; input: PolicyInput }>): Promise<Mismatch[]> {
  const mismatches: Mismatch[] = [];
  for (const [index, { kind, input }] of set.entries()) {
    const [a, b] = await Promise.all([postJson(opa.url, { input }), postJson(toolgate.url, { input })]);
    const ra = (a.json as { result?: unknown }).result;
    const rb = (b.json as { result?: unknown }).result;
    if (a.status !== 200 || b.status !== 200 || !isDeepStrictEqual(ra, rb)) mismatches.push({ index, kind, input, opa: a.status === 200 ? ra : a.json, toolgate: b.status === 200 ? rb : b.json });
  }
  return mismatches;
}

async function main(): Promise<void> {
  const wasm = readFileSync(ensurePolicyWasm());
  const opaVersion = execFileSync(opaBinary(), ['version'], { encoding: 'utf8' });
  const synth = { servers: config.servers, toolsPerServer: config.toolsPerServer };
  // The machine may be shared: the load average says how much to trust the figures.
  const loadAtStart = loadavg()[0]!;
  console.log(`toolgate policy benchmark: ${synth.servers * synth.toolsPerServer} tools on ${synth.servers} servers, ${config.inputs} mixed inputs, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadAtStart.toFixed(1)}, node ${process.version}, opa ${/Version: (\S+)/.exec(opaVersion)?.[1]} (${/WebAssembly: (\S+)/.exec(opaVersion)?.[1] === 'available' ? 'wasm engine available' : 'NO wasm engine'})`);

  const sizes: SizeResult[] = [];
  let httpBundle: Awaited<ReturnType<typeof bundleFor>>['bundle'] | undefined;
  let httpInputs: ReturnType<typeof inputSet> = [];
  for (const rules of config.sizes) {
    const span = loadSpan();
    const compiled = compileTimed(rules);
    const { bundle, ms: bundleBuildMs } = await bundleFor(compiled.data, wasm);
    const engine = new PolicyEngine();
    await engine.load(wasm, compiled.data, bundle.revision);
    const set = inputSet({ ...synth, rules, count: config.inputs });
    const evaluate = evaluateTimed(engine, set.map((s) => s.input));
    sizes.push({
      rules, tools: compiled.counts.tools, classifiers: compiled.counts.classifiers, compileMs: median(compiled.ms), compileCpuMs: median(compiled.cpuMs),
      dataJsonBytes: bundle.files.find((f) => f.name === 'data.json')?.data.length ?? 0, bundleBytes: bundle.archive.length, bundleBuildMs, evaluate, loadAverage: span.end(),
    });
    console.log(`  ${rules} rules: compiled in ${ms(median(compiled.ms))} (CPU ${ms(median(compiled.cpuMs))}; median of ${compiled.ms.length}), p50 ${ms(evaluate.p50Ms)}, ${rate(evaluate.perSecond)}; ${formatLoad(sizes.at(-1)!.loadAverage)}`);
    if (rules === config.httpRules) [httpBundle, httpInputs] = [bundle, set];
  }

  if (!httpBundle) console.log(`  HTTP comparison skipped: BENCH_HTTP_RULES=${config.httpRules} is not one of BENCH_SIZES`);
  let http: { rules: number; opaEngine: string; mismatches: Mismatch[]; runs: Array<{ concurrency: number; opa: LoadResult; toolgate: LoadResult }> } | undefined;
  if (httpBundle) {
    const dir = mkdtempSync(join(tmpdir(), 'toolgate-bench-'));
    const services: Service[] = [];
    try {
      const onDisk = { archivePath: join(dir, 'bundle.tar.gz'), publicKeyPath: join(dir, 'public.pem'), keyId };
      writeFileSync(onDisk.archivePath, httpBundle.archive);
      writeFileSync(onDisk.publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }));
      const [opa, toolgate] = await Promise.all([startOpa(onDisk), startToolgate(onDisk)]);
      services.push(opa, toolgate);
      const engineUsed = await opaEngine(opa, httpInputs[0]!.input);
      const mismatches = await compareDecisions(opa, toolgate, httpInputs);
      console.log(`  HTTP, ${config.httpRules} rules: OPA evaluates with ${engineUsed}; ${mismatches.length} of ${httpInputs.length} decisions differ`);
      const bodies = httpInputs.map(({ input }) => Buffer.from(JSON.stringify({ input })));
      const runs = [];
      for (const concurrency of config.concurrency) {
        const load = { concurrency, requests: config.requests, warmup: config.warmup };
        const opaRun = await runLoad(opa.url, bodies, load);
        const toolgateRun = await runLoad(toolgate.url, bodies, load);
        runs.push({ concurrency, opa: opaRun, toolgate: toolgateRun });
        console.log(`  concurrency ${concurrency}: opa ${rate(opaRun.perSecond)} (${formatLoad(opaRun.loadAverage!)}), toolgate ${rate(toolgateRun.perSecond)} (${formatLoad(toolgateRun.loadAverage!)})`);
      }
      http = { rules: config.httpRules, opaEngine: engineUsed, mismatches, runs };
    } finally {
      await Promise.all(services.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  }

  console.log(table(
    `In-process evaluation (PolicyEngine, policy.wasm) and compile, ${synth.servers * synth.toolsPerServer} tools`,
    ['rules', 'classifiers', 'eval p50', 'eval p99', 'decisions/s', 'compile (median)', 'compile CPU', 'data.json', 'bundle (signed, gz)', 'bundle build'],
    sizes.map((s) => [String(s.rules), String(s.classifiers), ms(s.evaluate.p50Ms), ms(s.evaluate.p99Ms), rate(s.evaluate.perSecond), ms(s.compileMs), ms(s.compileCpuMs), bytes(s.dataJsonBytes), bytes(s.bundleBytes), ms(s.bundleBuildMs)]),
  ));
  if (http) {
    console.log(table(
      `HTTP decisions, ${http.rules} rules, same bundle and inputs: opa run --server (engine: ${http.opaEngine}) vs toolgate (node:http + PolicyEngine); ${config.requests} requests after ${config.warmup} warm-up`,
      ['concurrency', 'opa p50', 'opa p99', 'opa req/s', 'toolgate p50', 'toolgate p99', 'toolgate req/s', 'req/s toolgate/opa', 'p50 opa/toolgate', 'errors'],
      http.runs.map(({ concurrency, opa, toolgate }) => [
        String(concurrency), ms(opa.p50Ms), ms(opa.p99Ms), rate(opa.perSecond), ms(toolgate.p50Ms), ms(toolgate.p99Ms), rate(toolgate.perSecond),
        `${(toolgate.perSecond / opa.perSecond).toFixed(2)}x`, `${(opa.p50Ms / toolgate.p50Ms).toFixed(2)}x`, `${opa.errors}/${toolgate.errors}`,
      ]),
    ));
    for (const { concurrency, opa, toolgate } of http.runs) {
      for (const [who, r] of [['opa', opa], ['toolgate', toolgate]] as const) {
        if (r.errors > 0) console.log(`concurrency ${concurrency}: ${who} failed ${r.errors} requests: ${JSON.stringify(r.errorsBy)}, first answers: ${JSON.stringify(r.errorBodies)}`);
      }
    }
    console.log(`\nDecision equivalence: ${http.mismatches.length} of ${httpInputs.length} inputs answered differently by OPA and toolgate.`);
    for (const m of http.mismatches.slice(0, 10)) console.log(JSON.stringify(m));
  }

  const out = join(repoRoot, 'build', 'bench', 'policy.json');
  mkdirSync(join(repoRoot, 'build', 'bench'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverage: { start: loadAtStart, end: loadavg()[0] }, opa: opaVersion.trim().split('\n'), config, sizes, http }, null, 2)}\n`);
  console.log(`\nLoad average (1 min): ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, on ${cpus().length} CPUs. Wrote ${out}`);
}

await main();
