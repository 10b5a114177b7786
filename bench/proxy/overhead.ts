// Proxy overhead: latency added per tools/call by the MCP proxy (JWT verification, session
// lookup, policy decision, upstream relay) over calling the same upstream server directly.
// Same SDK client code both ways, same real "everything" server, calls interleaved (one direct,
// one proxied) so drift on a shared machine hits both sides alike. Reported, never asserted.
//   node bench/proxy/overhead.ts            (BENCH_PROXY_CALLS=2000, BENCH_PROXY_WARMUP=200)
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, startRig } from '../../test/integration/proxy-support.ts';
import { formatLoad, loadSpan } from '../report.ts';
import { ms, summarize, table, type Summary } from '../stats.ts';

const calls = Number(process.env.BENCH_PROXY_CALLS ?? 2000);
const warmup = Number(process.env.BENCH_PROXY_WARMUP ?? 200);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'bench', 'proxy.json');

const rig = await startRig();
try {
  const direct = new Client({ name: 'bench-direct', version: '1' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(rig.everything.url)));
  const { client: proxied } = await connectClient(rig.proxy.url, await rig.token());

  const args = { message: 'benchmark payload' };
  const once = async (c: Client, name: string) => {
    const t = performance.now();
    const r = await c.callTool({ name, arguments: args });
    const elapsed = performance.now() - t;
    if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
    return elapsed;
  };
  for (let i = 0; i < warmup; i++) {
    await once(direct, 'echo');
    await once(proxied, 'everything__echo');
  }
  const span = loadSpan();
  const d = new Float64Array(calls);
  const p = new Float64Array(calls);
  let dWall = 0;
  let pWall = 0;
  for (let i = 0; i < calls; i++) {
    d[i] = await once(direct, 'echo');
    p[i] = await once(proxied, 'everything__echo');
    dWall += d[i]!;
    pWall += p[i]!;
  }
  const ds: Summary = summarize(d, dWall);
  const ps: Summary = summarize(p, pWall);
  const added = { p50Ms: ps.p50Ms - ds.p50Ms, p99Ms: ps.p99Ms - ds.p99Ms };
  const loadAverage = span.end();
  console.log(table(`MCP proxy overhead: tools/call "echo", ${calls} sequential calls each (after ${warmup} warm-up), ${availableParallelism()} CPUs, ${formatLoad(loadAverage)}`, ['path', 'p50', 'p99', 'calls/s'], [
    ['direct to upstream', ms(ds.p50Ms), ms(ds.p99Ms), ds.perSecond.toFixed(0)],
    ['through toolgate proxy', ms(ps.p50Ms), ms(ps.p99Ms), ps.perSecond.toFixed(0)],
    ['added by the proxy', ms(added.p50Ms), ms(added.p99Ms), ''],
  ]));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    benchmark: 'proxy-overhead', tool: 'echo', calls, warmup, cpus: availableParallelism(), node: process.version,
    loadAverage, direct: ds, proxied: ps, added, ratioP50: ps.p50Ms / ds.p50Ms,
  }, null, 2)}\n`);
  console.log(`\nwritten ${out}`);
  await direct.close();
  await proxied.close();
} finally {
  await rig.close();
}
