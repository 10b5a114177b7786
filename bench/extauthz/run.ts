// ext_authz benchmark: Check decisions/s and p50/p99 over gRPC, on this machine's cores, with the
// decision-table policy; the same load against an empty Check handler (the floor) and against a
// real `opa run --server` holding the same policy as a signed bundle. Reported, never asserted.
//
// Plain opa has no Envoy plugin (envoy_ext_authz_grpc ships only in the opa-envoy-plugin
// distribution), so OPA is measured through its REST data API with the equivalent decision
// input, over HTTP/1.1 keep-alive (bench/load.ts): OPA is spared JSON-RPC parsing, the caller
// identity and the CheckResponse, so the comparison flatters it slightly.
//
//   node bench/extauthz/run.ts        (env: BENCH_REQUESTS, BENCH_WARMUP, BENCH_CONCURRENCY)
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePolicyWasm, repoRoot } from '../../pkg/policy/engine/policy-wasm.ts';
import { compileFixture } from '../../test/support/extauthz.ts';
import { buildBundle } from '../../operator/src/bundle/index.ts';
import { bundleEntrypoints, bundleRoots } from '../../operator/src/controllers/policy-bundler.ts';
import { startJwtIssuer } from '../../test/harness/jwt-issuer.ts';
import { postJson, runLoad } from '../load.ts';
import { opaEngine, startOpa } from '../servers.ts';
import { ms, rate, table, type Summary } from '../stats.ts';
import { checkCall, checkClient, runGrpcLoad } from './grpc-load.ts';
import { benchCaller, benchRequests, type BenchRequest } from './workload.ts';

const config = {
  requests: Number(process.env.BENCH_REQUESTS ?? 20_000),
  warmup: Number(process.env.BENCH_WARMUP ?? 3_000),
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16),
};
const load = { requests: config.requests, warmup: config.warmup, concurrency: config.concurrency };
type Mode = 'empty' | 'decide' | 'jwt';

interface Row extends Summary { target: string; transport: string; mismatches: number; errors: number }

async function withServer<T>(mode: Mode, env: Record<string, string>, fn: (port: number) => Promise<T>): Promise<T> {
  const script = fileURLToPath(new URL('./server.ts', import.meta.url));
  const child = spawn(process.execPath, [script, mode], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  try {
    let buffered = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bench server (${mode}) exited with ${code}`)));
      child.stdout.on('data', (d: Buffer) => {
        const m = /"port":(\d+)/.exec((buffered += d.toString('utf8')));
        if (m) resolve(Number(m[1]));
      });
    });
    return await fn(port);
  } finally {
    if (child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
}

/** Ask once per request and count answers that are not the expected action. */
async function toolgateMismatches(port: number, reqs: readonly BenchRequest[], decides: boolean): Promise<number> {
  const client = checkClient(port);
  let bad = 0;
  for (const r of reqs) {
    const res = await checkCall(client, r.check);
    const code = res.denied_response ? (JSON.parse(res.denied_response.body) as { error: { code: number } }).error.code : 0;
    const action = res.ok_response ? 'allow' : code === -31002 ? 'require_approval' : 'deny';
    if (action !== (decides ? r.expected : 'allow')) bad++;
  }
  client.close();
  return bad;
}

async function measure(target: string, mode: Mode, reqs: BenchRequest[], env: Record<string, string> = {}): Promise<Row> {
  return withServer(mode, env, async (port) => {
    const mismatches = await toolgateMismatches(port, reqs, mode !== 'empty');
    const r = await runGrpcLoad(port, reqs.map((x) => x.check), load);
    console.log(`  ${target}: ${rate(r.perSecond)}, p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}, answers ${JSON.stringify(r.outcomes)}`);
    return { target, transport: 'gRPC Check (one HTTP/2 channel)', ...r, mismatches };
  });
}

async function main(): Promise<void> {
  const wasm = readFileSync(ensurePolicyWasm());
  console.log(`toolgate ext_authz benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0]!.toFixed(1)}, node ${process.version}; `
    + `${config.requests} Checks after ${config.warmup} warm-up at concurrency ${config.concurrency}; decision-table policy, 12 tools/call bodies (allow, deny, approval)`);
  const issuer = await startJwtIssuer({ audience: 'https://gateway.example.com/mcp', algs: ['ES256'] });
  const dir = mkdtempSync(join(tmpdir(), 'toolgate-bench-extauthz-'));
  const rows: Row[] = [];
  try {
    const token = await issuer.mint({ sub: benchCaller.operator, azp: benchCaller.agent, scope: benchCaller.scopes.join(' ') }, { alg: 'ES256', lifetime: 3600 });
    const plain = benchRequests();
    rows.push(await measure('empty Check handler (floor)', 'empty', plain));
    rows.push(await measure('toolgate Check (fixed caller)', 'decide', plain));
    rows.push(await measure('toolgate Check + JWT (ES256)', 'jwt', benchRequests(`Bearer ${token}`), {
      TOOLGATE_BENCH_ISSUER: JSON.stringify({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: issuer.audience }),
    }));

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bundle = await buildBundle({
      data: compileFixture() as unknown as Record<string, unknown>, wasm, entrypoints: bundleEntrypoints, roots: bundleRoots,
      metadata: { policy: { namespace: 'agents', name: 'acme' } }, signer: { key: privateKey, algorithm: 'ES256', keyId: 'bench' },
    });
    const onDisk = { archivePath: join(dir, 'bundle.tar.gz'), publicKeyPath: join(dir, 'public.pem'), keyId: 'bench' };
    writeFileSync(onDisk.archivePath, bundle.archive);
    writeFileSync(onDisk.publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }));
    const opa = await startOpa(onDisk);
    try {
      const engine = await opaEngine(opa, plain[0]!.input);
      let mismatches = 0;
      for (const r of plain) {
        const { json } = await postJson(opa.url, { input: r.input });
        if ((json as { result?: { action?: string } }).result?.action !== r.expected) mismatches++;
      }
      const r = await runLoad(opa.url, plain.map((x) => Buffer.from(JSON.stringify({ input: x.input }))), load);
      console.log(`  opa (${engine}): ${rate(r.perSecond)}, p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}`);
      rows.push({ target: `opa run --server, REST (${engine})`, transport: 'HTTP/1.1 POST /v1/data/toolgate/decision', ...r, mismatches });
    } finally {
      await opa.stop();
    }
  } finally {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const [floor, decide, , opa] = rows;
  console.log(table(
    `ext_authz Check, concurrency ${config.concurrency}, ${config.requests} requests (ratios: decisions/s vs the floor and vs opa; p50 added over the floor)`,
    ['target', 'decisions/s', 'p50', 'p99', 'vs floor', 'vs opa', 'p50 over floor', 'wrong answers', 'errors'],
    rows.map((r) => [r.target, rate(r.perSecond), ms(r.p50Ms), ms(r.p99Ms), `${(r.perSecond / floor!.perSecond).toFixed(2)}×`,
      `${(r.perSecond / opa!.perSecond).toFixed(2)}×`, ms(Math.max(0, r.p50Ms - floor!.p50Ms)), String(r.mismatches), String(r.errors)]),
  ));
  const out = join(repoRoot, 'build', 'bench', 'extauthz.json');
  mkdirSync(join(repoRoot, 'build', 'bench'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    at: new Date().toISOString(), cpus: cpus().length, loadAverage: loadavg()[0], node: process.version, config,
    rows, ratios: { toolgateVsFloor: decide!.perSecond / floor!.perSecond, toolgateVsOpa: decide!.perSecond / opa!.perSecond },
    notes: 'opa has no envoy_ext_authz_grpc plugin (opa-envoy-plugin distribution only): it is measured over its REST data API with the equivalent decision input',
  }, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}

await main();
