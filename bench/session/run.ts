// What session state costs a decision (issue 14): the same gate, wasm and policy rules, admitted
// sequentially, without spec.session and with it (a velocity limit every call counts toward, a
// flow rule), in one run. Three calls: a plain call (counted only), a source (taints its session:
// recorded in memory once, then known), and a sink (evaluated twice: once to learn it is a sink,
// once with the taint read afresh). Taint lives in a replica-local store here; behind the
// McpSessionTaint store a sink adds two GETs to the API server on top. Reported, never asserted.
// Run: node bench/session/run.ts (make bench-session) → build/bench/session.json
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import type { McpSecurityPolicy, McpSecurityPolicySpec } from '../../api/v1alpha1/index.ts';
import { Gate, PolicyRouter, type AdmitContext } from '../../authorizer/src/gate/index.ts';
import { parseJsonRpc } from '../../authorizer/src/gate/jsonrpc.ts';
import { MemoryTaintStore, SessionState } from '../../authorizer/src/session/index.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { anyNameCatalog } from '../../test/support/any-name-catalog.ts';
import { formatLoad, loadSpan } from '../report.ts';
import { ms, rate, summarize, table, type Summary } from '../stats.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? '5000');
const log = pino({ level: 'silent' });
const wasm = readFileSync(ensurePolicyWasm());

const base: McpSecurityPolicySpec = {
  servers: [{ name: 'mail', url: 'http://mail.test/mcp' }],
  toolOverrides: [
    { server: 'mail', tool: 'read_email', readOnlyHint: true, verb: 'get', labels: ['data:confidential'] },
    { server: 'mail', tool: 'send_email', readOnlyHint: false, destructiveHint: false, verb: 'create', labels: ['scope:internal'] },
    { server: 'mail', tool: 'list_labels', readOnlyHint: true, verb: 'list' },
  ],
  policies: [
    { name: 'no-deletes', priority: 10, when: { verbs: ['delete'] }, action: 'deny' },
    { name: 'allow-all', priority: 100, when: {}, action: 'allow' },
  ],
};
const session: McpSecurityPolicySpec['session'] = {
  // Never reached in the run: the cost of counting, not of refusing.
  limits: [{ name: 'calls', when: {}, max: 100_000, window: '1h', action: 'deny' }],
  // A sink the run's taint does not trigger: send_email is internal, the flow guards external sinks.
  flows: [{ name: 'no-exfiltration', from: ['data:confidential'], to: { labels: ['scope:external'] }, action: 'deny' }],
};

async function gateFor(spec: McpSecurityPolicySpec, withSession: boolean): Promise<Gate> {
  const policy: McpSecurityPolicy = { apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'bench', name: 'p' }, spec };
  const { data, problems } = compilePolicy(policy, new Map());
  if (!data) throw new Error(JSON.stringify(problems));
  const router = new PolicyRouter();
  await router.entry('bench/p').engine.load(wasm, data, 'rev');
  router.update('bench/p', { gateway: data.toolgate.gateway, data });
  return new Gate({ router, log, catalog: anyNameCatalog, ...(withSession ? { session: new SessionState({ taint: new MemoryTaintStore() }) } : {}) });
}

// A sink needs the flow rule to name it: give send_email the external label in a second variant.
const sinkSpec = (s: McpSecurityPolicySpec): McpSecurityPolicySpec => ({ ...s, session: { ...session, flows: [{ ...session!.flows![0]!, to: { labels: ['scope:internal'] }, action: 'require_approval', approvers: ['sre'] }] } });

async function measure(gate: Gate, tool: string, expect: string): Promise<Summary> {
  const ctx: AdmitContext = { frontEnd: 'proxy', naming: { server: 'mail' }, sessionId: 'bench-session', caller: { subject: 'alice', issuer: 'https://issuer.test', roles: [], scopes: [] } };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { id: '1' } } });
  for (let i = 0; i < 500; i++) await gate.admit(parseJsonRpc(body), ctx);
  const latencies = new Float64Array(requests);
  const span = loadSpan();
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const a = await gate.admit(parseJsonRpc(body), ctx);
    latencies[i] = performance.now() - t;
    const got = a.kind === 'refuse' ? `refuse ${a.refusal.error.code}` : a.kind;
    if (got !== expect) throw new Error(`${tool}: expected ${expect}, got ${got}`);
  }
  return { ...summarize(latencies, performance.now() - started), loadAverage: span.end() };
}

const without = await gateFor(base, false);
const withState = await gateFor({ ...base, session }, true);
const results: Record<string, Summary> = {
  'plain call, no spec.session': await measure(without, 'list_labels', 'allow'),
  'plain call, with session state': await measure(withState, 'list_labels', 'allow'),
  'source call, no spec.session': await measure(without, 'read_email', 'allow'),
  'source call, with session state': await measure(withState, 'read_email', 'allow'),
  'untainted sink, no spec.session': await measure(without, 'send_email', 'allow'),
  'untainted sink, with session state': await measure(await gateFor(sinkSpec(base), true), 'send_email', 'allow'),
};
// A tainted sink: the session read data:confidential first; the flow then holds the call.
const tainted = await gateFor(sinkSpec(base), true);
await measure(tainted, 'read_email', 'allow').then(() => undefined);
results['tainted sink (held), with session state'] = await measure(tainted, 'send_email', 'refuse -31002');

const rows = Object.entries(results).map(([k, s]) => [k, ms(s.p50Ms), ms(s.p99Ms), rate(s.perSecond), formatLoad(s.loadAverage!)]);
console.log(table(`gate.admit of one tools/call, ${requests} sequential requests each (same run)`, ['call', 'p50', 'p99', 'rate', 'load average'], rows));
mkdirSync('build/bench', { recursive: true });
writeFileSync('build/bench/session.json', `${JSON.stringify({ requests, results }, null, 2)}\n`);
