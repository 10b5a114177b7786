// Approval release latency: from `kubectl mcp approve` to the held call's response at the MCP
// client. Real parts throughout: etcd + kube-apiserver, the operator in-process computing the
// phase from its watch, the authorizer's proxy holding the call (SDK client, SSE) and releasing
// it from its own watch, the real "everything" MCP server upstream. Each round: hold a fresh
// call, run the plugin's approve code (SelfSubjectReview, GET, status UPDATE), wait for the
// answer. Reported, never asserted.
//   node bench/approval/release.ts          (BENCH_APPROVAL_ROUNDS=20, BENCH_APPROVAL_WARMUP=2)
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { ApprovalCoordinator, approvalPolicy } from '../../authorizer/src/approvals/index.ts';
import { UpstreamToolCatalog, mcpToolLister } from '../../authorizer/src/catalog/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy } from '../../authorizer/src/proxy/index.ts';
import { main as kubectlMcp } from '../../kubectl-mcp/commands.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startOperator } from '../../operator/src/operator.ts';
import { ControlPlane, mintUserKubeconfig } from '../../test/harness/controlplane.ts';
import { startJwtIssuer } from '../../test/harness/jwt-issuer.ts';
import { operatorBundles } from '../../test/harness/operator.ts';
import { audience, connectClient, loadPolicy, startEverything } from '../../test/integration/proxy-support.ts';
import { formatLoad, loadSpan } from '../report.ts';
import { ms, summarize, table } from '../stats.ts';

const rounds = Number(process.env.BENCH_APPROVAL_ROUNDS ?? 20);
const warmup = Number(process.env.BENCH_APPROVAL_WARMUP ?? 2);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'bench', 'approval.json');
const log = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
const ns = 'bench-approvals';
const sleep = (msDelay: number) => new Promise((r) => setTimeout(r, msDelay));
const nullSink = () => new Writable({ write(_c, _e, cb) { cb(); } });

const cp = await ControlPlane.start();
const stops: Array<() => Promise<unknown>> = [async () => cp.stop()];
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const admin = new KubeClient(kc);
  await admin.apply({ group: '', version: 'v1', plural: 'namespaces', name: ns }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, 'bench');
  const operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, identity: 'bench-operator', probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(), log,
    leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300, approvals: { namespaces: [ns] },
  });
  stops.unshift(() => operator.stop());
  while (!operator.isLeader()) await sleep(50);

  const issuer = await startJwtIssuer({ audience });
  const everything = await startEverything();
  stops.unshift(() => issuer.close(), () => everything.close());
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: ns, name: 'agents' },
    spec: {
      servers: [{ name: 'everything', url: everything.url }], profiles: [{ name: 'everything' }],
      policies: [{ name: 'echo-needs-sre', priority: 10, when: { tools: ['echo'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy, 'rev-1');
  const coordinator = new ApprovalCoordinator({ client: admin, pod: 'bench-authorizer', log, policy: approvalPolicy(router, (call) => gate.decisionPath.decide(call)) });
  await coordinator.start();
  const verifier = createTokenVerifier(gateway.identity!, {});
  // The gate decides only tools the upstream lists: without a catalog every call is refused
  // "tool catalog unavailable" (this bench failed so once the catalog became required).
  const catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: async () => ({}), log }), log });
  const gate: Gate = new Gate({ router, log, catalog, approvals: coordinator, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  const proxy = await startMcpProxy({ gate, approvalKeepAliveMs: 100, log });
  stops.unshift(() => coordinator.stop(), () => proxy.close(), async () => catalog.close());
  const { client } = await connectClient(proxy.url, await issuer.mint({ sub: 'alice', azp: 'agent-1' }));
  stops.unshift(() => client.close());
  // system:masters spares the RBAC set-up; the operator still counts only the recorded 'sre' membership.
  const approver = await mintUserKubeconfig(cp.env, 'ann', ['sre', 'system:masters']);

  const span = loadSpan();
  const total = new Float64Array(rounds);
  const command = new Float64Array(rounds);
  const afterWrite = new Float64Array(rounds);
  for (let i = -warmup; i < rounds; i++) {
    let name: string | undefined;
    const call = client.callTool({ name: 'echo', arguments: { message: `bench ${i} ${Date.now()}` } }, undefined, {
      timeout: 120_000,
      onprogress: (p) => { name ??= /kubectl mcp approve (ar-[0-9a-f]+) /.exec(p.message ?? '')?.[1]; },
    });
    while (!name) await sleep(5);
    const t0 = performance.now();
    const code = await kubectlMcp(['approve', name, '-n', ns, `--kubeconfig=${approver}`, '--wait=0'], nullSink(), nullSink());
    const t1 = performance.now();
    if (code !== 0) throw new Error(`kubectl mcp approve ${name} exited ${code}`);
    const result = await call;
    const t2 = performance.now();
    if (result.isError) throw new Error(`released call failed: ${JSON.stringify(result.content)}`);
    if (i < 0) continue;
    total[i] = t2 - t0;
    command[i] = t1 - t0;
    afterWrite[i] = t2 - t1;
  }
  const sum = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0);
  const s = { total: summarize(total, sum(total)), command: summarize(command, sum(command)), afterWrite: summarize(afterWrite, sum(afterWrite)) };
  const loadAverage = span.end();
  console.log(table(`Approval release latency: ${rounds} approvals (after ${warmup} warm-up), ${availableParallelism()} CPUs, kube-apiserver ${cp.version}, ${formatLoad(loadAverage)}`, ['span', 'p50', 'p99'], [
    ['kubectl mcp approve → held call answered', ms(s.total.p50Ms), ms(s.total.p99Ms)],
    ['  of which: the approve command (review, GET, UPDATE)', ms(s.command.p50Ms), ms(s.command.p99Ms)],
    ['  of which: write done → answer (operator, watch, consume, upstream)', ms(s.afterWrite.p50Ms), ms(s.afterWrite.p99Ms)],
  ]));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    benchmark: 'approval-release', rounds, warmup, cpus: availableParallelism(), node: process.version, apiserver: cp.version, loadAverage,
    approveToResponse: s.total, approveCommand: s.command, writeToResponse: s.afterWrite,
  }, null, 2)}\n`);
  console.log(`\nwritten ${out}`);
} finally {
  for (const stop of stops) await stop().catch(() => undefined);
}
process.exit(0);
