// What awaiting the audit write adds to an allowed tools/call (issue 10: a call proceeds only once
// its decision is on disk). The same gate, policy and call, admitted sequentially and with 16 in
// flight: without a trail, with the trail awaited (fdatasync per batch, the default), and with
// the trail awaited without fdatasync. Reported, never asserted. Run: node bench/audit/run.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuditTrail } from '../../authorizer/src/audit/index.ts';
import { Gate, type AdmitContext } from '../../authorizer/src/gate/index.ts';
import { parseJsonRpc } from '../../authorizer/src/gate/jsonrpc.ts';
import { anyNameCatalog } from '../../test/support/any-name-catalog.ts';
import { compileFixture, loadFixtureRouter } from '../../test/support/extauthz.ts';
import { formatLoad, loadSpan } from '../report.ts';
import { ms, rate, summarize, table } from '../stats.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? '2000');
const log = pino({ level: 'silent' });
const ctx: AdmitContext = { frontEnd: 'ext_authz', naming: { server: 'gmail' }, caller: { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes: [] } };
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_email', arguments: { id: '1' } } });

const router = await loadFixtureRouter(compileFixture());
const dir = mkdtempSync(join(tmpdir(), 'toolgate-bench-audit-'));

async function measure(label: string, onDecision: ((r: Parameters<NonNullable<ConstructorParameters<typeof Gate>[0]['onDecision']>>[0]) => unknown) | undefined, concurrency: number): Promise<string[]> {
  const gate = new Gate({ router, log, catalog: anyNameCatalog, ...(onDecision ? { onDecision } : {}) });
  const latencies = new Float64Array(requests);
  let next = 0;
  const span = loadSpan();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      const i = next++;
      const t = performance.now();
      const a = await gate.admit(parseJsonRpc(body), ctx);
      if (a.kind !== 'allow') throw new Error(`${label}: expected allow, got ${a.kind}`);
      latencies[i] = performance.now() - t;
    }
  }));
  const s = summarize(latencies, performance.now() - started);
  return [label, String(concurrency), ms(s.p50Ms), ms(s.p99Ms), rate(s.perSecond), formatLoad(span.end())];
}

const rows: string[][] = [];
for (const concurrency of [1, 16]) {
  rows.push(await measure('no audit trail', undefined, concurrency));
  for (const fsync of [true, false]) {
    const trail = await AuditTrail.open({ file: join(dir, `audit-${concurrency}-${fsync}.jsonl`), log, registry: new Registry(), fsync });
    rows.push(await measure(`trail awaited${fsync ? ' (fdatasync)' : ' (no fdatasync)'}`, (r) => trail.record(r), concurrency));
    await trail.close();
  }
}
console.log(table(`gate.admit of an allowed call, ${requests} requests`, ['audit', 'in flight', 'p50', 'p99', 'rate', 'load average'], rows));
rmSync(dir, { recursive: true, force: true });
