// Memory soak (issue 15): one authorizer process (what config/authorizer runs: node
// build/dist/authorizer.mjs, the bundle of cmd/authorizer/main.ts; the policy bundle pulled
// from a real operator over TLS) under half of its maximum load through both front ends for
// BENCH_SOAK_SECONDS (default 600), then the operator process serving 200 simulated long-polling
// authorizers through policy changes applied with kubectl. RSS and CPU of each process sampled
// from /proc every 10 s. Reported, never asserted.
//   node bench/soak/run.ts     → build/bench/soak.json, build/bench/operator-soak.json
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../test/harness/accounts.ts';
import { rate, table } from '../stats.ts';
import { missedRevisions, startPollers } from './pollers.ts';
import { governed, policyName, soakPolicy, startRig } from './rig.ts';
import { parseRssMiB, processMappings, sampleProcess, summarizeMemory, type MemorySummary, type Sample } from './sampler.ts';
import { Callers, closedLoop, mixKind, paced, Tally } from './traffic.ts';

const env = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got "${process.env[name]}"`);
  return v;
};
const soakSeconds = env('BENCH_SOAK_SECONDS', 600);
const operatorSeconds = env('BENCH_OPERATOR_SOAK_SECONDS', soakSeconds);
const warmupSeconds = env('BENCH_SOAK_WARMUP_SECONDS', Math.min(120, Math.round(soakSeconds / 5)));
const sampleMs = env('BENCH_SOAK_SAMPLE_SECONDS', 10) * 1000;
const rampStepMs = env('BENCH_SOAK_RAMP_STEP_SECONDS', 6) * 1000;
const rampConcurrency = (process.env.BENCH_SOAK_RAMP_CONCURRENCY ?? '1,4,16').split(',').map(Number);
const loadFraction = env('BENCH_SOAK_LOAD_FRACTION', 0.5);
// BENCH_SOAK_RATE="<ext_authz>,<proxy>" calls/s fixes the soak's rate instead of taking a fraction
// of the ramp's best step, so A/B runs (flags, allocators) compare at the same load.
const fixedRate = (() => {
  const v = process.env.BENCH_SOAK_RATE;
  if (v === undefined) return undefined;
  const [e, p, ...rest] = v.split(',').map(Number);
  if (rest.length || !(e! > 0) || !(p! > 0)) throw new Error(`BENCH_SOAK_RATE must be "<ext_authz calls/s>,<proxy calls/s>", both positive, got "${v}"`);
  return { extAuthzPerSecond: e!, proxyPerSecond: p! };
})();
const callsPerConnection = env('BENCH_SOAK_CALLS_PER_CONNECTION', 50);
const abandonEvery = env('BENCH_SOAK_ABANDON_EVERY', 10);
const holdEveryMs = env('BENCH_SOAK_HOLD_EVERY_SECONDS', 2) * 1000;
const pollerCount = env('BENCH_OPERATOR_SOAK_POLLERS', 200);
const pollWaitSeconds = env('BENCH_OPERATOR_SOAK_WAIT_SECONDS', 60);
const policyChanges = env('BENCH_OPERATOR_SOAK_CHANGES', 5);
const outDir = join(import.meta.dirname, '..', '..', 'build', 'bench');
const mib = (x: number) => `${x.toFixed(1)} MiB`;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
const load = () => loadavg()[0]!;

/** Scrapes a few gauges from a /metrics page (best effort: a failed scrape is a missing value, not an error). */
async function gauges(port: number, names: readonly string[]): Promise<Record<string, number>> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
  const out: Record<string, number> = {};
  for (const name of names) {
    if (name.endsWith('{*}')) {
      // 'name{*}': the sum over all its series (e.g. one per policy worker).
      const base = name.slice(0, -3);
      const all = [...text.matchAll(new RegExp(`^${base}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].map((m) => Number(m[1]));
      if (all.length > 0) out[name] = all.reduce((a, b) => a + b, 0);
      continue;
    }
    // "name" matches the series with any labels (the first one), 'name{label="v"}' exactly that one.
    const series = name.includes('{') ? name.replace(/[{}"=]/g, (c) => `\\${c}`) : `${name}(?:\\{[^}]*\\})?`;
    const m = new RegExp(`^${series} ([0-9.e+-]+)$`, 'm').exec(text);
    if (m) out[name] = Number(m[1]);
  }
  return out;
}

function memoryRows(name: string, s: MemorySummary): string[][] {
  return [
    [`${name}: RSS at start / after warm-up (${s.warmupSeconds} s) / at end`, `${mib(s.rssAtStartMiB)} / ${mib(s.rssAfterWarmupMiB)} / ${mib(s.rssAtEndMiB)}`],
    [`${name}: RSS min / max after warm-up, peak`, `${mib(s.minAfterWarmupMiB)} / ${mib(s.maxAfterWarmupMiB)}, ${mib(s.peakMiB)}`],
    [`${name}: spread (max−min)/min, trend (last vs first quarter), slope`, `${s.spreadPercent.toFixed(1)} %, ${pct(s.trendPercent)}, ${s.slopeMiBPerMinute.toFixed(2)} MiB/min`],
    [`${name}: CPU mean / peak (cores)`, `${s.meanCpuCores.toFixed(2)} / ${s.peakCpuCores.toFixed(2)}`],
  ];
}

const loadAtStart = load();
const rig = await startRig();
try {
  mkdirSync(outDir, { recursive: true });
  // ── 1. The authorizer under load through both front ends ──────────────────────────────
  const ports = { extAuthz: await freePort(), proxy: await freePort(), probe: await freePort() };
  const authorizer = await rig.startAuthorizer(ports);
  // The main thread's heap, and the policy workers' own (their isolates are not in nodejs_heap_*).
  const v8Gauges = ['nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes', 'toolgate_policy_worker_heap_used_bytes{*}', 'toolgate_policy_worker_heap_total_bytes{*}'];
  // What the process holds before any call: the baseline the soak's figures grow from.
  const atReady = { rssMiB: parseRssMiB(readFileSync(`/proc/${authorizer.pid}/status`, 'utf8')), mappings: processMappings(authorizer.pid), v8: await gauges(ports.probe, v8Gauges) };
  const mint = () => rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
  const proxyUrl = `http://127.0.0.1:${ports.proxy}/mcp`;
  const rampTally = new Tally();
  const ramp: Array<{ concurrency: number; extAuthzPerSecond: number; proxyPerSecond: number; errors: number }> = [];
  {
    const callers = new Callers({ extAuthzPort: ports.extAuthz, proxyUrl, mint, tally: rampTally, callsPerConnection, abandonEvery });
    // Warm-up of the code paths (JIT, the catalog, the JWKS), not measured.
    await Promise.all([closedLoop(2, 2_000, (i) => callers.extAuthz(mixKind(i))), closedLoop(2, 2_000, (i) => callers.proxy(mixKind(i)))]);
    for (const c of rampConcurrency) {
      const before = rampTally.errorCount;
      const [e, p] = await Promise.all([closedLoop(c, rampStepMs, (i) => callers.extAuthz(mixKind(i))), closedLoop(c, rampStepMs, (i) => callers.proxy(mixKind(i)))]);
      ramp.push({ concurrency: c, extAuthzPerSecond: e / (rampStepMs / 1000), proxyPerSecond: p / (rampStepMs / 1000), errors: rampTally.errorCount - before });
    }
    await callers.close();
  }
  const best = ramp.reduce((a, b) => (b.extAuthzPerSecond + b.proxyPerSecond > a.extAuthzPerSecond + a.proxyPerSecond ? b : a));
  const target = fixedRate ?? { extAuthzPerSecond: best.extAuthzPerSecond * loadFraction, proxyPerSecond: best.proxyPerSecond * loadFraction };
  console.log(table('Soak: maximum load (closed loop, both front ends at once, allowed/denied mix)', ['concurrency each', 'ext_authz', 'proxy', 'errors'],
    ramp.map((r) => [String(r.concurrency), rate(r.extAuthzPerSecond), rate(r.proxyPerSecond), String(r.errors)])));
  console.log(`\nsoak for ${soakSeconds} s at ${fixedRate ? 'the rate BENCH_SOAK_RATE fixes' : `${loadFraction} of the best step (concurrency ${best.concurrency})`}: ext_authz ${rate(target.extAuthzPerSecond)}, proxy ${rate(target.proxyPerSecond)}, `
    + `one held call per front end every ${holdEveryMs / 1000} s; sampling RSS every ${sampleMs / 1000} s`);

  const tally = new Tally();
  const callers = new Callers({ extAuthzPort: ports.extAuthz, proxyUrl, mint, tally, callsPerConnection, abandonEvery });
  const soakLoadStart = load();
  const sampler = sampleProcess(authorizer.pid, sampleMs, load);
  const extras: Array<Record<string, number>> = [];
  const scrape = setInterval(() => {
    // Where the RSS sits (anonymous, malloc's brk heap) beside what the process says it holds.
    const m = processMappings(authorizer.pid);
    void gauges(ports.probe, ['toolgate_proxy_sessions', 'toolgate_proxy_replay_bytes', ...v8Gauges, 'nodejs_heap_space_size_total_bytes{space="new"}', 'nodejs_heap_space_size_total_bytes{space="old"}'])
      .then((g) => extras.push({ t: sampler.samples.at(-1)?.t ?? 0, anonymousMiB: m.anonymous, wasmMemoryMiB: m.wasmMemory, brkHeapMiB: m.brkHeap, ...g }));
  }, sampleMs);
  const durationMs = soakSeconds * 1000;
  const started = performance.now();
  const [ext, prox, extHeld, proxHeld] = await Promise.all([
    paced(target.extAuthzPerSecond, durationMs, 256, (i) => callers.extAuthz(mixKind(i))),
    paced(target.proxyPerSecond, durationMs, 256, (i) => callers.proxy(mixKind(i))),
    paced(1000 / holdEveryMs, durationMs, 64, () => callers.extAuthz('hold')),
    paced(1000 / holdEveryMs, durationMs, 64, () => callers.proxyHeld(rig.approve)),
  ]);
  const wallSeconds = (performance.now() - started) / 1000;
  clearInterval(scrape);
  const samples: Sample[] = sampler.stop();
  await callers.close();
  const soakLoadEnd = load();
  const memory = summarizeMemory(samples, warmupSeconds);
  const atEnd = { rssMiB: parseRssMiB(readFileSync(`/proc/${authorizer.pid}/status`, 'utf8')), mappings: processMappings(authorizer.pid), v8: await gauges(ports.probe, v8Gauges) };
  const composition = (c: typeof atReady) => `${mib(c.rssMiB)} = anonymous ${mib(c.mappings.anonymous)} (of which WebAssembly memory ${mib(c.mappings.wasmMemory)}) + malloc brk ${mib(c.mappings.brkHeap)} + node binary ${mib(c.mappings.nodeBinary)} + other files ${mib(c.mappings.otherFiles)}; `
    + `V8 heap ${mib((c.v8.nodejs_heap_size_used_bytes ?? NaN) / 2 ** 20)} used of ${mib((c.v8.nodejs_heap_size_total_bytes ?? NaN) / 2 ** 20)}, external ${mib((c.v8.nodejs_external_memory_bytes ?? NaN) / 2 ** 20)}`
    + (c.v8['toolgate_policy_worker_heap_total_bytes{*}'] === undefined ? '' : `; policy workers' heaps ${mib((c.v8['toolgate_policy_worker_heap_used_bytes{*}'] ?? NaN) / 2 ** 20)} used of ${mib(c.v8['toolgate_policy_worker_heap_total_bytes{*}'] / 2 ** 20)}`);
  console.log(table(`Soak: authorizer process (pid ${authorizer.pid}), ${wallSeconds.toFixed(0)} s, ${samples.length} samples, ${availableParallelism()} CPUs`, ['figure', 'value'], [
    ['authorizer ready, before any call', composition(atReady)],
    ['authorizer at the end of the soak', composition(atEnd)],
    ...memoryRows('authorizer', memory),
    ['calls completed (ext_authz / proxy)', `${ext.started + extHeld.started} / ${prox.started + proxHeld.started}`],
    ['achieved rate (ext_authz / proxy)', `${rate(ext.started / wallSeconds)} / ${rate(prox.started / wallSeconds)}`],
    ['calls not started (in-flight cap reached)', String(ext.skipped + prox.skipped + extHeld.skipped + proxHeld.skipped)],
    ['by outcome', Object.entries(tally.calls).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['MCP sessions opened / abandoned without DELETE; gRPC channels opened', `${callers.sessionsOpened} / ${callers.sessionsAbandoned}; ${callers.channelsOpened}`],
    ['errors', `${tally.errorCount}${tally.errorCount ? `: ${JSON.stringify(tally.errors)}` : ''}`],
    ['load average (1 min) at start / end', `${soakLoadStart.toFixed(2)} / ${soakLoadEnd.toFixed(2)}`],
  ]));
  for (const [k, v] of Object.entries(tally.firstError)) console.log(`  first ${k}: ${v}`);
  writeFileSync(join(outDir, 'soak.json'), `${JSON.stringify({
    benchmark: 'authorizer-soak', date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), kubeApiserver: rig.cp.version,
    loadAverage: { start: soakLoadStart, end: soakLoadEnd },
    settings: { soakSeconds, warmupSeconds, sampleSeconds: sampleMs / 1000, loadFraction, fixedRate: fixedRate ?? null, callsPerConnection, abandonEvery, holdEverySeconds: holdEveryMs / 1000 },
    held: 'proxy: approved with kubectl mcp approve and answered; ext_authz: refused with the approval reference (retry mode), left to expire after 1 m',
    ramp, maxStep: best, target,
    achieved: { extAuthzPerSecond: ext.started / wallSeconds, proxyPerSecond: prox.started / wallSeconds, heldPerSecond: (extHeld.started + proxHeld.started) / wallSeconds, wallSeconds },
    skipped: { extAuthz: ext.skipped, proxy: prox.skipped, held: extHeld.skipped + proxHeld.skipped },
    calls: tally.calls, errors: { count: tally.errorCount, byKind: tally.errors, first: tally.firstError, byMinute: tally.errorsByMinute }, rampErrors: rampTally.errors,
    connections: { sessionsOpened: callers.sessionsOpened, sessionsAbandoned: callers.sessionsAbandoned, channelsOpened: callers.channelsOpened },
    memory, atReady, atEnd, samples, scraped: extras,
  }, null, 2)}\n`);
  console.log(`\nwritten ${join(outDir, 'soak.json')}`);
  await authorizer.stop();

  // ── 2. The operator serving simulated long-polling authorizers ────────────────────────
  const tokens: string[] = [];
  for (let i = 0; i < pollerCount; i++) tokens.push(await rig.authorizerToken());
  const opAt = async () => ({ rssMiB: parseRssMiB(readFileSync(`/proc/${rig.operator.pid}/status`, 'utf8')), mappings: processMappings(rig.operator.pid), v8: await gauges(rig.operatorProbe, v8Gauges) });
  const opAtStart = await opAt();
  const opLoadStart = load();
  const opSampler = sampleProcess(rig.operator.pid, sampleMs, load);
  const pollers = startPollers({ service: rig.bundleService, bundle: `${governed}/${policyName}`, tokens, ca: rig.caPem, waitSeconds: pollWaitSeconds });
  const opStarted = performance.now();
  const published: string[] = [];
  const seen = () => new Set(pollers.stats.revisions.flat());
  const newRevision = async (timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const fresh = [...seen()].find((r) => !published.includes(r));
      if (fresh) return fresh;
      await sleep(50);
    }
    return undefined;
  };
  const first = await newRevision(60_000);
  if (!first) throw new Error(`no poller received the first bundle within 60 s: ${JSON.stringify(pollers.stats.errors)} ${JSON.stringify(pollers.stats.firstError)}`);
  published.push(first);
  const changes: Array<{ variant: number; appliedAtSeconds: number; revision: string | undefined; allReceivedMs: number | undefined }> = [];
  const gap = (operatorSeconds * 1000) / (policyChanges + 1);
  for (let v = 1; v <= policyChanges; v++) {
    await sleep(Math.max(0, opStarted + v * gap - performance.now()));
    const t0 = performance.now();
    await rig.kubectlApply(soakPolicy(rig.everything.url, rig.issuer, rig.profileName, v));
    const revision = await newRevision(30_000);
    if (revision) published.push(revision);
    let allReceivedMs: number | undefined;
    while (revision && performance.now() - t0 < 30_000) {
      if (pollers.stats.revisions.every((r) => r.includes(revision))) {
        allReceivedMs = performance.now() - t0;
        break;
      }
      await sleep(20);
    }
    changes.push({ variant: v, appliedAtSeconds: (t0 - opStarted) / 1000, revision, allReceivedMs });
  }
  await sleep(Math.max(0, opStarted + operatorSeconds * 1000 - performance.now()));
  const opSamples = opSampler.stop();
  const opAtEnd = await opAt();
  await pollers.stop();
  const opLoadEnd = load();
  const missed = pollers.stats.revisions.map((r) => missedRevisions(r, published).length);
  const missedTotal = missed.reduce((a, b) => a + b, 0);
  const opMemory = summarizeMemory(opSamples, Math.min(warmupSeconds, operatorSeconds / 5));
  const pollerErrors = Object.values(pollers.stats.errors).reduce((a, b) => a + b, 0);
  console.log(table(`Soak: operator process (pid ${rig.operator.pid}) serving ${pollerCount} long-polling authorizers (wait=${pollWaitSeconds} s), ${(operatorSeconds).toFixed(0)} s, ${policyChanges} policy changes`, ['figure', 'value'], [
    ['operator before the pollers', composition(opAtStart)],
    ['operator at the end', composition(opAtEnd)],
    ...memoryRows('operator', opMemory),
    ['revisions published (first + changes)', String(published.length)],
    ['revisions missed (pollers × revisions)', `${missedTotal} of ${pollerCount * published.length}`],
    ['all pollers had a change (kubectl start → last poller), per change', changes.map((c) => (c.allReceivedMs === undefined ? 'not all' : `${c.allReceivedMs.toFixed(0)} ms`)).join(', ')],
    ['answers by status', JSON.stringify(pollers.stats.answers)],
    ['poller errors', `${pollerErrors}${pollerErrors ? `: ${JSON.stringify(pollers.stats.errors)}` : ''}`],
    ['load average (1 min) at start / end', `${opLoadStart.toFixed(2)} / ${opLoadEnd.toFixed(2)}`],
  ]));
  writeFileSync(join(outDir, 'operator-soak.json'), `${JSON.stringify({
    benchmark: 'operator-soak', date: new Date().toISOString(), node: process.version, cpus: availableParallelism(),
    loadAverage: { start: opLoadStart, end: opLoadEnd }, settings: { operatorSeconds, pollers: pollerCount, waitSeconds: pollWaitSeconds, policyChanges, sampleSeconds: sampleMs / 1000 },
    published, changes, missed: { total: missedTotal, pollersMissingAny: missed.filter((m) => m > 0).length },
    answers: pollers.stats.answers, errors: { count: pollerErrors, byKind: pollers.stats.errors, first: pollers.stats.firstError },
    memory: opMemory, atStart: opAtStart, atEnd: opAtEnd, samples: opSamples,
  }, null, 2)}\n`);
  console.log(`\nwritten ${join(outDir, 'operator-soak.json')}; load average at start ${loadAtStart.toFixed(2)}, end ${load().toFixed(2)}`);
} finally {
  await rig.close();
}
process.exit(0);
