// ext_authz benchmark: Check decisions/s and p50/p99 over gRPC with the decision-table policy,
// side by side in one run: an empty Check handler (the floor), toolgate (fixed caller, and with
// ES256 JWT verification), and the peer Envoy users pick — opa-envoy-plugin serving ext_authz
// with the same Rego program and compiled data (opa-envoy-adapter.rego), with a fixed caller and
// with the JWT verified in Rego. Every server gets the same Check calls from two load generators
// (grpc-load.ts on @grpc/grpc-js, and ghz) at each concurrency; then toolgate, the floor and the
// plugin again pinned to 1 and to 2 cores (taskset). Reported, never asserted.
//
//   node bench/extauthz/run.ts   (env: see bench/README.md "bench-extauthz")
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { compileFixture } from '../../test/support/extauthz.ts';
import { buildBundle } from '../../operator/src/bundle/index.ts';
import { bundleEntrypoints, bundleRoots } from '../../operator/src/controllers/policy-bundler.ts';
import { startJwtIssuer } from '../../test/harness/jwt-issuer.ts';
import { formatLoad, loadSpan, machineLine, processCpuMs, writeBenchJson } from '../report.ts';
import { ms, rate, table } from '../stats.ts';
import { runGhz } from './ghz.ts';
import { checkCall, checkClient, runGrpcLoad, type GrpcLoadResult } from './grpc-load.ts';
import { startOpaEnvoy } from './opa-envoy.ts';
import { benchCaller, benchRequests, type BenchRequest } from './workload.ts';

const cpu = (us: number | undefined) => (us === undefined ? 'n/a' : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`);
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const config = {
  requests: Number(process.env.BENCH_REQUESTS ?? 10_000),
  warmup: Number(process.env.BENCH_WARMUP ?? 2_000),
  concurrency: list(process.env.BENCH_CONCURRENCY ?? '1,16,64').map(Number),
  generators: list(process.env.BENCH_GENERATORS ?? 'grpc-js,ghz') as Generator[],
  /** The 1 vs 2 cores run: at this concurrency, with ghz; 0 skips it. */
  coresConcurrency: Number(process.env.BENCH_CORES_CONCURRENCY ?? 64),
};
for (const g of config.generators) if (g !== 'grpc-js' && g !== 'ghz') throw new Error(`BENCH_GENERATORS: unknown generator "${g}" (expected grpc-js, ghz)`);
for (const c of config.concurrency) if (!Number.isInteger(c) || c < 1) throw new Error(`BENCH_CONCURRENCY: "${c}" is not a positive integer`);

type Generator = 'grpc-js' | 'ghz';
type TargetKey = 'floor' | 'toolgate' | 'toolgate-jwt' | 'opa-envoy' | 'opa-envoy-jwt';
const labels: Record<TargetKey, string> = {
  floor: 'empty Check handler (floor)',
  toolgate: 'toolgate (fixed caller)',
  'toolgate-jwt': 'toolgate + JWT (ES256)',
  'opa-envoy': 'OPA-Envoy plugin (fixed caller)',
  'opa-envoy-jwt': 'OPA-Envoy plugin + JWT (ES256)',
};
/** Which OPA-Envoy row a row is compared with: the one that knows its caller the same way. */
const peerOf: Record<TargetKey, TargetKey> = { floor: 'opa-envoy', toolgate: 'opa-envoy', 'toolgate-jwt': 'opa-envoy-jwt', 'opa-envoy': 'opa-envoy', 'opa-envoy-jwt': 'opa-envoy-jwt' };

interface Running { port: number; pid: number | undefined; stop: () => Promise<void> }
interface Target { key: TargetKey; requests: BenchRequest[]; decides: boolean; start: (wrap?: readonly string[]) => Promise<Running> }
interface Row extends GrpcLoadResult {
  target: TargetKey;
  generator: Generator;
  /** CPU time the server process used per Check, warm-up included (µs): robust to the machine's load. */
  serverCpuUsPerCheck?: number;
  vsFloor?: number;
  vsOpaEnvoy?: number;
  p50OverFloorMs?: number;
}
interface CoresRow { target: TargetKey; oneCore: GrpcLoadResult; twoCores: GrpcLoadResult; ratio: number }

/** toolgate's bench server (server.ts) in its own process, optionally under taskset. */
async function startToolgateServer(mode: 'empty' | 'decide' | 'jwt', env: Record<string, string>, wrap: readonly string[] = []): Promise<Running> {
  const script = fileURLToPath(new URL('./server.ts', import.meta.url));
  const [cmd, ...args] = [...wrap, process.execPath, script, mode];
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  let buffered = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server (${mode}) exited with ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      const m = /"port":(\d+)/.exec((buffered += d.toString('utf8')));
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, pid: child.pid, stop };
}

/** What a CheckResponse decided: the same reading for toolgate and the plugin (the adapter answers alike). */
function actionOf(res: Awaited<ReturnType<typeof checkCall>>): string {
  if (res.ok_response) return 'allow';
  const code = (JSON.parse(res.denied_response?.body ?? '{}') as { error?: { code?: number } }).error?.code;
  return code === -31002 ? 'require_approval' : code === -31001 ? 'deny' : `refused (${code ?? 'no JSON-RPC error'})`;
}

/** Asks once per request and counts answers that are not the expected action. */
async function mismatches(port: number, target: Target): Promise<{ wrong: number; examples: string[] }> {
  const client = checkClient(port);
  const examples: string[] = [];
  let wrong = 0;
  try {
    for (const r of target.requests) {
      const got = actionOf(await checkCall(client, r.check));
      const expected = target.decides ? r.expected : 'allow';
      if (got !== expected) {
        wrong++;
        if (examples.length < 5) examples.push(`${r.check.attributes?.context_extensions?.['toolgate-server']}: ${r.check.attributes?.request?.http?.body?.slice(0, 120)} → ${got}, expected ${expected}`);
      }
    }
  } finally {
    client.close();
  }
  return { wrong, examples };
}

function drive(generator: Generator, port: number, reqs: BenchRequest[], concurrency: number, pin?: { wrap: readonly string[]; cpus: number }): Promise<GrpcLoadResult> {
  const load = { requests: config.requests, warmup: config.warmup, concurrency };
  const checks = reqs.map((x) => x.check);
  return generator === 'ghz' ? runGhz(port, checks, { ...load, ...(pin ?? {}) }) : runGrpcLoad(port, checks, load);
}

async function main(): Promise<void> {
  const run = loadSpan();
  console.log(`toolgate ext_authz benchmark: ${machineLine()}; ${config.requests} Checks after ${config.warmup} warm-up per row, concurrency ${config.concurrency.join('/')}, `
    + `generators ${config.generators.join(', ')}; decision-table policy, 12 tools/call bodies (allow, deny, approval)`);
  const issuer = await startJwtIssuer({ audience: 'https://gateway.example.com/mcp', algs: ['ES256'] });
  const dir = mkdtempSync(join(tmpdir(), 'toolgate-bench-extauthz-'));
  const running = new Map<TargetKey, Running>();
  try {
    const token = await issuer.mint({ sub: benchCaller.operator, azp: benchCaller.agent, scope: benchCaller.scopes.join(' ') }, { alg: 'ES256', lifetime: 3600 });
    const jwks = await (await fetch(issuer.jwksUri)).text();
    const bundle = await buildBundle({
      data: compileFixture() as unknown as Record<string, unknown>, wasm: readFileSync(ensurePolicyWasm()), entrypoints: bundleEntrypoints, roots: bundleRoots,
      metadata: { policy: { namespace: 'agents', name: 'acme' } },
    });
    // The plugin loads the very data.json toolgate's bundle carries.
    const dataJson = Buffer.from(bundle.files.find((f) => f.name === 'data.json')!.data);
    const plain = benchRequests();
    const withToken = benchRequests(`Bearer ${token}`);
    const issuerEnv = { TOOLGATE_BENCH_ISSUER: JSON.stringify({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: issuer.audience }) };
    const caller = { agent: benchCaller.agent, operator: benchCaller.operator, roles: benchCaller.roles, scopes: benchCaller.scopes };
    let plugins = 0;
    const plugin = (c: Parameters<typeof startOpaEnvoy>[0]['caller']) => async (wrap?: readonly string[]) => {
      const p = await startOpaEnvoy({ dir: join(dir, `opa-envoy-${plugins++}`), dataJson, caller: c, ...(wrap ? { wrap } : {}) });
      return { port: p.grpcPort, pid: p.pid, stop: p.stop };
    };
    const targets: Target[] = [
      { key: 'floor', requests: plain, decides: false, start: (wrap) => startToolgateServer('empty', {}, wrap) },
      { key: 'toolgate', requests: plain, decides: true, start: (wrap) => startToolgateServer('decide', {}, wrap) },
      { key: 'toolgate-jwt', requests: withToken, decides: true, start: (wrap) => startToolgateServer('jwt', issuerEnv, wrap) },
      { key: 'opa-envoy', requests: plain, decides: true, start: plugin(caller) },
      { key: 'opa-envoy-jwt', requests: withToken, decides: true, start: plugin({ identity: { jwks, issuer: issuer.issuer, audience: issuer.audience } }) },
    ];

    // Every server runs for the whole matrix and rows are measured one target after another,
    // so drift on a shared machine hits neighbouring rows alike and the ratios stay comparable.
    const answers: Record<string, { wrong: number; examples: string[] }> = {};
    for (const t of targets) {
      running.set(t.key, await t.start());
      answers[t.key] = await mismatches(running.get(t.key)!.port, t);
      console.log(`  ${labels[t.key]}: ${answers[t.key]!.wrong} of ${t.requests.length} answers differ from the expected action${answers[t.key]!.examples.map((e) => `\n    ${e}`).join('')}`);
    }
    const rows: Row[] = [];
    for (const concurrency of config.concurrency) {
      for (const generator of config.generators) {
        for (const t of targets) {
          const server = running.get(t.key)!;
          const cpuBefore = processCpuMs(server.pid);
          const r = await drive(generator, server.port, t.requests, concurrency);
          const cpuAfter = processCpuMs(server.pid);
          const checks = r.count + Math.max(config.warmup, generator === 'ghz' ? concurrency : 0);
          const serverCpuUsPerCheck = cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1000) / checks : undefined;
          rows.push({ target: t.key, generator, ...r, ...(serverCpuUsPerCheck !== undefined ? { serverCpuUsPerCheck } : {}) });
          console.log(`  c=${concurrency} ${generator} ${labels[t.key]}: ${rate(r.perSecond)}, p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}, server CPU ${cpu(serverCpuUsPerCheck)}/Check, errors ${r.errors}, ${formatLoad(r.loadAverage!)}`);
        }
      }
    }
    for (const r of rows) {
      const same = (k: TargetKey) => rows.find((x) => x.target === k && x.generator === r.generator && x.concurrency === r.concurrency)!;
      const floor = same('floor');
      const peer = same(peerOf[r.target]);
      Object.assign(r, { vsFloor: r.perSecond / floor.perSecond, vsOpaEnvoy: r.perSecond / peer.perSecond, p50OverFloorMs: r.p50Ms - floor.p50Ms });
    }
    await Promise.all([...running.values()].map((s) => s.stop()));
    running.clear();

    const cores: CoresRow[] = [];
    if (config.coresConcurrency > 0) {
      // Two cores and no third: ghz stays on CPU 1 (GOMAXPROCS 1) in both runs, the server gets
      // CPU 0 alone or both CPUs. What the second core adds is what the server gains from it
      // while the generator keeps its share — a lower bound of two dedicated cores.
      const ghzPin = { wrap: ['taskset', '-c', '1'], cpus: 1 };
      for (const key of ['floor', 'toolgate', 'opa-envoy'] as const) {
        const t = targets.find((x) => x.key === key)!;
        const measureOn = async (cpuList: string) => {
          const s = await t.start(['taskset', '-c', cpuList]);
          try {
            return await drive('ghz', s.port, t.requests, config.coresConcurrency, ghzPin);
          } finally {
            await s.stop();
          }
        };
        const oneCore = await measureOn('0');
        const twoCores = await measureOn('0,1');
        cores.push({ target: key, oneCore, twoCores, ratio: twoCores.perSecond / oneCore.perSecond });
        console.log(`  cores ${labels[key]}: 1 core ${rate(oneCore.perSecond)} (${formatLoad(oneCore.loadAverage!)}), 2 cores ${rate(twoCores.perSecond)} (${formatLoad(twoCores.loadAverage!)})`);
      }
    }

    const x = (v: number | undefined) => (v === undefined ? '' : `${v.toFixed(2)}×`);
    for (const concurrency of config.concurrency) {
      console.log(table(
        `ext_authz Check at concurrency ${concurrency}, ${config.requests} requests per row (vs floor / vs OPA-Envoy: decisions/s ratios, same generator; the JWT rows are compared with the plugin verifying the same JWT)`,
        ['target', 'generator', 'decisions/s', 'p50', 'p99', 'vs floor', 'vs OPA-Envoy', 'p50 over floor', 'server CPU/Check', 'errors', 'load average'],
        rows.filter((r) => r.concurrency === concurrency).map((r) => [labels[r.target], r.generator, rate(r.perSecond), ms(r.p50Ms), ms(r.p99Ms), x(r.vsFloor), x(r.vsOpaEnvoy),
          ms(Math.max(0, r.p50OverFloorMs ?? 0)), cpu(r.serverCpuUsPerCheck), String(r.errors), formatLoad(r.loadAverage!)]),
      ));
    }
    if (cores.length) {
      console.log(table(
        `1 vs 2 cores: the server under taskset -c 0 vs -c 0,1, ghz pinned to CPU 1 (--cpus 1) at concurrency ${config.coresConcurrency}`,
        ['target', '1 core', '2 cores', '2 / 1', 'load (1 core)', 'load (2 cores)'],
        cores.map((c) => [labels[c.target], rate(c.oneCore.perSecond), rate(c.twoCores.perSecond), x(c.ratio), formatLoad(c.oneCore.loadAverage!), formatLoad(c.twoCores.loadAverage!)]),
      ));
    }
    console.log(`\nWrong answers: ${Object.entries(answers).map(([k, a]) => `${labels[k as TargetKey]} ${a.wrong}`).join(', ')} (of ${plain.length} each; 0 expected)`);
    const out = writeBenchJson('extauthz', run.end(), {
      config, labels, answers, rows, cores,
      notes: [
        'rows: one per target × generator × concurrency; vsFloor and vsOpaEnvoy compare decisions/s with the same generator and concurrency; vsOpaEnvoy of a JWT row is against the plugin verifying the same JWT',
        'OPA-Envoy plugin: opa-envoy-plugin with envoy_ext_authz_grpc, path envoy/toolgate/response (bench/extauthz/opa-envoy-adapter.rego) over pkg/policy/rego and the bundle\'s data.json, Rego engine, no decision logs',
        'ghz outcomes are gRPC status codes (a denial is a successful Check); grpc-js outcomes are ok or the denied HTTP status',
        'cores: server under taskset -c 0 vs -c 0,1, ghz under taskset -c 1 with --cpus 1 in both',
      ],
    });
    console.log(`Load average ${formatLoad(run.end())} over the run. Wrote ${out}`);
  } finally {
    await Promise.all([...running.values()].map((s) => s.stop()));
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
