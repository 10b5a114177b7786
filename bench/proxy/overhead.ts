// Proxy overhead: what the MCP proxy adds per tools/call (JWT verification, session lookup,
// strict parse, policy decision, audit record, upstream relay) over calling the same upstream
// server directly. The same official SDK client code every way, the same real "everything"
// server process, the same call. Reported, never asserted.
//   node bench/proxy/overhead.ts            (BENCH_PROXY_CALLS=5000, BENCH_PROXY_WARMUP=200)
//
// The proxy runs in its own process (proxy-server.ts) as in a pod: with the StatefulSet's node
// flags, NODE_OPTIONS, policy workers and (when this host has it) preloaded allocator, read from
// config/authorizer. Until session 13 it shared this process with the client, so every
// garbage collection of either one was a pause of both.
//
// Rows: direct; through the proxy without an audit trail or logs; through the proxy as shipped:
// the audit trail config/authorizer turns on (AUDIT_FILE, fdatasync per batch; the decision
// record written before the call goes upstream, the response record after) and info-level logs;
// and, to tell the proxy's code from the hop between processes, the same proxy (no trail)
// running inside this client's process, as this bench measured it until session 13 (its rig
// has its own server-everything process, started the same way).
// Calls go in rounds of BENCH_PROXY_BLOCK per path (direct, proxied, shipped, then again), so
// drift on a shared machine hits every path alike, and the proxy process's CPU is read around each
// block (/proc/<pid>/task/*/schedstat, in ns): "CPU per call" is the client's plus the proxy's,
// which unlike latency barely moves with the machine's load.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, startRig } from '../../test/integration/proxy-support.ts';
import { shippedEnvLiterals, shippedNodeFlags } from '../../test/support/shipped-container.ts';
import { loadNow as load, processCpuNs } from '../report.ts';
import { ms, summarize, table, type Summary } from '../stats.ts';

const positive = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got "${process.env[name]}"`);
  return v;
};
const calls = positive('BENCH_PROXY_CALLS', 5000);
const warmup = positive('BENCH_PROXY_WARMUP', 200);
const block = positive('BENCH_PROXY_BLOCK', 50);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'bench', 'proxy.json');

interface Path {
  label: string;
  client: Client;
  tool: string;
  latencies: Float64Array;
  wallMs: number;
  clientCpuUs: number;
  proxyCpuNs: number;
}

/** The proxy process as the StatefulSet runs the authorizer: its flags, NODE_OPTIONS, workers, allocator. */
function startProxyProcess() {
  const shipped = shippedEnvLiterals('authorizer');
  // BENCH_PROXY_NODE_FLAGS / BENCH_PROXY_NODE_OPTIONS / BENCH_PROXY_WORKERS replace the shipped ones, for A/B runs.
  const flags = process.env.BENCH_PROXY_NODE_FLAGS !== undefined ? process.env.BENCH_PROXY_NODE_FLAGS.split(/\s+/).filter(Boolean) : shippedNodeFlags('authorizer');
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    NODE_OPTIONS: process.env.BENCH_PROXY_NODE_OPTIONS ?? shipped.NODE_OPTIONS ?? '',
    // The rig's gate takes its policy workers from TOOLGATE_TEST_WORKERS.
    TOOLGATE_TEST_WORKERS: process.env.BENCH_PROXY_WORKERS ?? shipped.AUTHORIZER_WORKERS ?? '0',
    ...(shipped.MALLOC_CONF !== undefined ? { MALLOC_CONF: shipped.MALLOC_CONF } : {}),
  };
  // The loader ignores an LD_PRELOAD it cannot find: say which allocator ran instead of guessing.
  const preload = shipped.LD_PRELOAD && existsSync(shipped.LD_PRELOAD) ? shipped.LD_PRELOAD : undefined;
  if (preload) env.LD_PRELOAD = preload;
  const child = spawn(process.execPath, [...flags, fileURLToPath(new URL('./proxy-server.ts', import.meta.url))], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<{ direct: string; proxied: string; shipped: string; token: string }>((resolve, reject) => {
    let buffered = '';
    child.once('exit', (code) => reject(new Error(`proxy-server.ts exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      // Its one JSON line (a node flag such as --trace-gc may print lines of its own).
      const line = buffered.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
  });
  return {
    child, ready, settings: { flags, nodeOptions: env.NODE_OPTIONS ?? '', workers: env.TOOLGATE_TEST_WORKERS ?? '0', allocator: preload ? `${preload} (MALLOC_CONF=${env.MALLOC_CONF ?? ''})` : 'glibc malloc' },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const proxy = startProxyProcess();
// Same policy, catalog and identity, in this process (policy decided in-process, default node flags).
const inProcess = await startRig();
try {
  const urls = await proxy.ready;
  const pid = proxy.child.pid!;
  const direct = new Client({ name: 'bench-direct', version: '1' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(urls.direct)));
  const { client: proxied } = await connectClient(urls.proxied, urls.token);
  const { client: audited } = await connectClient(urls.shipped, urls.token);
  const { client: local } = await connectClient(inProcess.proxy.url, await inProcess.token());
  // The rig aggregates two servers, so the proxied name carries the server's prefix.
  const paths: Path[] = [
    { label: 'direct to upstream', client: direct, tool: 'echo' },
    { label: 'through toolgate proxy', client: proxied, tool: 'everything__echo' },
    { label: 'through toolgate proxy as shipped', client: audited, tool: 'everything__echo' },
    { label: "through the proxy in the client's process", client: local, tool: 'everything__echo' },
  ].map((p) => ({ ...p, latencies: new Float64Array(calls), wallMs: 0, clientCpuUs: 0, proxyCpuNs: 0 }));

  const args = { message: 'benchmark payload' };
  const once = async (p: Path) => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    const r = await p.client.callTool({ name: p.tool, arguments: args });
    const elapsed = performance.now() - t;
    const used = process.cpuUsage(cpu);
    if (r.isError) throw new Error(`${p.label}: ${p.tool} failed: ${JSON.stringify(r.content)}`);
    return { elapsed, cpuUs: used.user + used.system };
  };
  for (let i = 0; i < warmup; i++) for (const p of paths) await once(p);
  const loadAverage = { start: load(), end: 0 };
  for (let from = 0; from < calls; from += block) {
    const to = Math.min(calls, from + block);
    for (const p of paths) {
      const before = processCpuNs(pid);
      for (let i = from; i < to; i++) {
        const { elapsed, cpuUs } = await once(p);
        p.latencies[i] = elapsed;
        p.wallMs += elapsed;
        p.clientCpuUs += cpuUs;
      }
      p.proxyCpuNs += processCpuNs(pid) - before;
    }
  }
  loadAverage.end = load();
  const summaries = paths.map((p) => ({
    ...summarize(p.latencies, p.wallMs),
    clientCpuPerCallUs: p.clientCpuUs / calls,
    proxyProcessCpuPerCallUs: p.proxyCpuNs / 1000 / calls,
    cpuPerCallUs: p.clientCpuUs / calls + p.proxyCpuNs / 1000 / calls,
  }));
  type Row = Summary & { cpuPerCallUs: number; clientCpuPerCallUs: number; proxyProcessCpuPerCallUs: number };
  const [ds, ps, as, ls] = summaries as [Row, Row, Row, Row];
  const addedOver = (s: Row) => ({ p50Ms: s.p50Ms - ds.p50Ms, p99Ms: s.p99Ms - ds.p99Ms, cpuPerCallUs: s.cpuPerCallUs - ds.cpuPerCallUs });
  const added = addedOver(ps);
  const addedAudited = addedOver(as);
  const addedInProcess = addedOver(ls);
  const us = (x: number) => `${x.toFixed(0)} µs`;
  // A difference of two noisy percentiles can be negative; say so rather than print "-24000 µs".
  const diff = (x: number) => (x < 0 ? `-${ms(-x)}` : ms(x));
  console.log(`proxy process: node ${proxy.settings.flags.join(' ')}, NODE_OPTIONS="${proxy.settings.nodeOptions}", ${proxy.settings.workers} policy worker(s), ${proxy.settings.allocator}`);
  console.log(table(`MCP proxy overhead: tools/call "echo", ${calls} sequential calls per path, in blocks of ${block} per path in turn (after ${warmup} warm-up), ${availableParallelism()} CPUs, load ${loadAverage.start.toFixed(1)}→${loadAverage.end.toFixed(1)}`, ['path', 'p50', 'p99', 'calls/s', 'CPU per call (client + proxy process)'], [
    ...paths.map((p, i) => [p.label, ms(summaries[i]!.p50Ms), ms(summaries[i]!.p99Ms), summaries[i]!.perSecond.toFixed(0), `${us(summaries[i]!.cpuPerCallUs)} (${us(summaries[i]!.clientCpuPerCallUs)} + ${us(summaries[i]!.proxyProcessCpuPerCallUs)})`]),
    ['added by the proxy', diff(added.p50Ms), diff(added.p99Ms), '', us(added.cpuPerCallUs)],
    ['added as shipped (audit trail, logs)', diff(addedAudited.p50Ms), diff(addedAudited.p99Ms), '', us(addedAudited.cpuPerCallUs)],
    ["added in the client's process (no hop)", diff(addedInProcess.p50Ms), diff(addedInProcess.p99Ms), '', us(addedInProcess.cpuPerCallUs)],
  ]));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    benchmark: 'proxy-overhead', tool: 'echo', calls, warmup, block, cpus: availableParallelism(), node: process.version,
    proxyProcess: proxy.settings,
    loadAverage, direct: ds, proxied: ps, added, ratioP50: ps.p50Ms / ds.p50Ms,
    shipped: as, addedShipped: addedAudited, ratioP50Shipped: as.p50Ms / ds.p50Ms,
    inClientProcess: ls, addedInClientProcess: addedInProcess,
  }, null, 2)}\n`);
  console.log(`\nwritten ${out}`);
  for (const p of paths) await p.client.close();
} finally {
  await inProcess.close();
  await proxy.stop();
}
