// Proxy overhead: what the MCP proxy adds per tools/call (JWT verification, session lookup,
// strict parse, policy decision, audit record, upstream relay) over calling the same upstream
// server directly. The same official SDK client code every way, the same real "everything"
// server process, the same call; calls interleaved (direct, proxied, proxied with the audit
// trail) so drift on a shared machine hits every path alike. Reported, never asserted.
//   node bench/proxy/overhead.ts            (BENCH_PROXY_CALLS=2000, BENCH_PROXY_WARMUP=200)
//
// Rows: direct; through the proxy without an audit trail or logs; through the proxy as shipped:
// the audit trail config/authorizer turns on (AUDIT_FILE, fdatasync per batch; the decision
// record written before the call goes upstream, the response record after) and info-level logs
// (one JSON line per decision, written synchronously like pino's stdout; here to a file). "CPU per call" is the
// CPU this process (client and proxy; the server runs in its own) spent per call of that path:
// unlike latency it barely moves with the machine's load, so proxied minus direct is the
// proxy's own cost even on a busy machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuditTrail } from '../../authorizer/src/audit/index.ts';
import { Gate } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy } from '../../authorizer/src/proxy/index.ts';
import { connectClient, startRig } from '../../test/integration/proxy-support.ts';
import { loadNow as load } from '../report.ts';
import { ms, summarize, table, type Summary } from '../stats.ts';

const calls = Number(process.env.BENCH_PROXY_CALLS ?? 2000);
const warmup = Number(process.env.BENCH_PROXY_WARMUP ?? 200);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'bench', 'proxy.json');

interface Path {
  label: string;
  client: Client;
  tool: string;
  latencies: Float64Array;
  wallMs: number;
  cpuUs: number;
}

const rig = await startRig();
const dir = mkdtempSync(join(tmpdir(), 'toolgate-bench-proxy-'));
const log = pino({ level: 'silent' });
const shippedLog = pino({ level: 'info' }, pino.destination({ dest: join(dir, 'authorizer.log'), sync: true }));
// The rig's gate and proxy, plus a second gate over the same policy, catalog and identity
// with the audit trail wired as authorizer.ts wires it.
const trail = await AuditTrail.open({ file: join(dir, 'audit.jsonl'), log, registry: new Registry(), fsync: true, instance: 'bench' });
const identity = rig.router.servers().find((s) => s.entry.gateway?.identity)!.entry.gateway!.identity!;
const verifier = createTokenVerifier(identity, {});
const auditedGate = new Gate({
  router: rig.router, log: shippedLog, catalog: rig.catalog,
  authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
  onDecision: (r) => trail.record(r),
  onRefusal: (r) => trail.recordRefusal(r),
  onResponse: (e) => trail.recordResponse(e),
});
const auditedProxy = await startMcpProxy({ gate: auditedGate, log: shippedLog });
try {
  const direct = new Client({ name: 'bench-direct', version: '1' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(rig.everything.url)));
  const token = await rig.token();
  const { client: proxied } = await connectClient(rig.proxy.url, token);
  const { client: audited } = await connectClient(auditedProxy.url, token);
  // The rig aggregates two servers, so the proxied name carries the server's prefix.
  const paths: Path[] = [
    { label: 'direct to upstream', client: direct, tool: 'echo' },
    { label: 'through toolgate proxy', client: proxied, tool: 'everything__echo' },
    { label: 'through toolgate proxy as shipped', client: audited, tool: 'everything__echo' },
  ].map((p) => ({ ...p, latencies: new Float64Array(calls), wallMs: 0, cpuUs: 0 }));

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
  for (let i = 0; i < calls; i++) {
    for (const p of paths) {
      const { elapsed, cpuUs } = await once(p);
      p.latencies[i] = elapsed;
      p.wallMs += elapsed;
      p.cpuUs += cpuUs;
    }
  }
  loadAverage.end = load();
  const summaries = paths.map((p) => ({ ...summarize(p.latencies, p.wallMs), cpuPerCallUs: p.cpuUs / calls }));
  const [ds, ps, as] = summaries as [Summary & { cpuPerCallUs: number }, Summary & { cpuPerCallUs: number }, Summary & { cpuPerCallUs: number }];
  const addedOver = (s: typeof ds) => ({ p50Ms: s.p50Ms - ds.p50Ms, p99Ms: s.p99Ms - ds.p99Ms, cpuPerCallUs: s.cpuPerCallUs - ds.cpuPerCallUs });
  const added = addedOver(ps);
  const addedAudited = addedOver(as);
  const us = (x: number) => `${x.toFixed(0)} µs`;
  // A difference of two noisy percentiles can be negative; say so rather than print "-24000 µs".
  const diff = (x: number) => (x < 0 ? `-${ms(-x)}` : ms(x));
  console.log(table(`MCP proxy overhead: tools/call "echo", ${calls} sequential calls per path, interleaved (after ${warmup} warm-up), ${availableParallelism()} CPUs, load ${loadAverage.start.toFixed(1)}→${loadAverage.end.toFixed(1)}`, ['path', 'p50', 'p99', 'calls/s', 'CPU per call'], [
    ...paths.map((p, i) => [p.label, ms(summaries[i]!.p50Ms), ms(summaries[i]!.p99Ms), summaries[i]!.perSecond.toFixed(0), us(summaries[i]!.cpuPerCallUs)]),
    ['added by the proxy', diff(added.p50Ms), diff(added.p99Ms), '', us(added.cpuPerCallUs)],
    ['added as shipped (audit trail, logs)', diff(addedAudited.p50Ms), diff(addedAudited.p99Ms), '', us(addedAudited.cpuPerCallUs)],
  ]));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    benchmark: 'proxy-overhead', tool: 'echo', calls, warmup, cpus: availableParallelism(), node: process.version,
    loadAverage, direct: ds, proxied: ps, added, ratioP50: ps.p50Ms / ds.p50Ms,
    shipped: as, addedShipped: addedAudited, ratioP50Shipped: as.p50Ms / ds.p50Ms,
  }, null, 2)}\n`);
  console.log(`\nwritten ${out}`);
  for (const p of paths) await p.client.close();
} finally {
  await auditedProxy.close();
  await trail.close();
  await rig.close();
  rmSync(dir, { recursive: true, force: true });
}
