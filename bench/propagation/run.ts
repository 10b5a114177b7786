// Policy propagation: from `kubectl apply` of a policy change to the first decision under the new
// revision in the authorizer. A real etcd + kube-apiserver (test/harness/controlplane.ts), the
// operator and one authorizer in this process (startOperator / startAuthorizer, the authorizer
// pulling over HTTP with a real service-account token and verifying the signed bundle), and the
// real kubectl. Each round applies the other of two specs (a rule flipping deny ↔ allow), then
// asks the authorizer's decision path every millisecond until a decision comes back under a new
// revision with the flipped action. Reported, never asserted.
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { startAuthorizer } from '../../authorizer/src/authorizer.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import type { ToolCall } from '../../authorizer/src/gate/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { defaultPublicKeyConfigMap, startOperator } from '../../operator/src/operator.ts';
import { ControlPlane, binary } from '../../test/harness/controlplane.ts';
import { formatLoad, loadSpan } from '../report.ts';
import { ms, percentile, table } from '../stats.ts';
import { setUpAuthorizerAccount } from './account.ts';

const rounds = Number(process.env.BENCH_PROPAGATION_ROUNDS ?? 30);
const repoRoot = join(import.meta.dirname, '..', '..');
const ns = 'bench-propagation';
const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

const spec = (action: 'allow' | 'deny'): McpSecurityPolicy => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: ns },
  spec: {
    servers: [{ name: 'files', url: 'http://files.mcp.svc:8080/mcp' }],
    toolOverrides: [{ server: 'files', tool: 'write_file', verb: 'update', readOnlyHint: false }],
    policies: [{ name: 'writes', priority: 10, when: { tools: ['write_file'] }, action }],
  },
});
const call: ToolCall = { server: 'files', tool: 'write_file', arguments: { path: '/tmp/x' }, caller: { subject: 'bench', issuer: 'bench', roles: [], scopes: [] }, frontEnd: 'ext_authz' };

const span = loadSpan();
const cp = await ControlPlane.start();
const kubectlBin = await binary('kubectl');
const kc = new KubeConfig();
kc.loadFromFile(cp.kubeconfigPath);
const admin = new KubeClient(kc);
let stop: Array<() => Promise<void>> = [];

/** Runs `kubectl apply` of one object; resolves when kubectl exits. */
function kubectlApply(obj: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlBin, [`--kubeconfig=${cp.kubeconfigPath}`, `--cache-dir=${join(cp.dir, '.kube-cache')}`, 'apply', '--server-side', '--field-manager=bench', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl apply exited ${code}: ${stderr}`))));
    child.stdin.end(JSON.stringify(obj));
  });
}

try {
  const account = await setUpAuthorizerAccount(admin, cp, ns);
  const operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, identity: 'bench', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: { policyWasm: readFileSync(ensurePolicyWasm()), port: 0, host: '127.0.0.1', allow: [account.user] },
  });
  stop.push(() => operator.stop());
  let cm: { data?: Record<string, string> } | undefined;
  for (let i = 0; !cm?.data?.['public.pem']; i++) {
    if (i > 300) throw new Error(`ConfigMap ${ns}/${defaultPublicKeyConfigMap} did not appear`);
    cm = await admin.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: ns, name: defaultPublicKeyConfigMap }).catch(() => undefined);
    if (!cm) await sleep(100);
  }
  await kubectlApply(spec('deny'));
  const authorizer = await startAuthorizer({
    kubeConfig: account.kubeConfig, namespace: ns, podName: 'bench-0', bundleService: operator.bundleServer.url, policies: [`${ns}/agents`],
    tokenPath: account.tokenPath,
    verification: { publicKeyPem: cm.data['public.pem'], keyId: cm.data['key-id']!, algorithm: cm.data.algorithm! },
    extAuthz: { port: 0, host: '127.0.0.1' }, probePort: 0, probeHost: '127.0.0.1', reportRevisions: true, log,
  });
  stop = [() => authorizer.stop(), ...stop];
  for (let i = 0; !authorizer.ready(); i++) {
    if (i > 3000) throw new Error(`the authorizer did not load its first bundle: ${authorizer.bundles.readiness().detail}`);
    await sleep(10);
  }
  console.log(`control plane ${cp.version}; operator and authorizer up; ${rounds} rounds`);

  const samples: Array<{ round: number; totalMs: number; kubectlMs: number; afterApplyMs: number; revision: string }> = [];
  let current = authorizer.decisionPath.decide(call);
  for (let round = 1; round <= rounds; round++) {
    const want = current.decision.action === 'deny' ? 'allow' : 'deny';
    const previous = current.revision;
    const t0 = performance.now();
    let kubectlDone = Number.NaN;
    const applied = kubectlApply(spec(want)).then(() => (kubectlDone = performance.now()));
    const deadline = t0 + 30_000;
    for (;;) {
      const v = authorizer.decisionPath.decide(call);
      if (v.revision !== previous && v.decision.action === want) {
        current = v;
        break;
      }
      if (performance.now() > deadline) throw new Error(`round ${round}: no decision under a new revision within 30 s (still ${v.revision})`);
      await sleep(1);
    }
    const t1 = performance.now();
    await applied;
    samples.push({ round, totalMs: t1 - t0, kubectlMs: kubectlDone - t0, afterApplyMs: t1 - kubectlDone, revision: current.revision });
    await sleep(200);
  }

  const sorted = (key: 'totalMs' | 'kubectlMs' | 'afterApplyMs') => Float64Array.from(samples.map((s) => s[key])).sort();
  const row = (name: string, key: 'totalMs' | 'kubectlMs' | 'afterApplyMs') => {
    const s = sorted(key);
    return [name, ms(percentile(s, 50)), ms(percentile(s, 99)), ms(s[s.length - 1]!), ms(s[0]!)];
  };
  const loadAverage = span.end();
  console.log(table(`Policy propagation over ${samples.length} changes (kubectl apply → first decision under the new revision), ${formatLoad(loadAverage)}`,
    ['interval', 'p50', 'p99', 'max', 'min'],
    [row('kubectl start → decision', 'totalMs'), row('kubectl start → kubectl exit', 'kubectlMs'), row('kubectl exit → decision', 'afterApplyMs')]));
  const summary = (key: 'totalMs' | 'kubectlMs' | 'afterApplyMs') => {
    const s = sorted(key);
    return { p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: s[s.length - 1], minMs: s[0] };
  };
  const out = join(repoRoot, 'build', 'bench', 'propagation.json');
  mkdirSync(join(repoRoot, 'build', 'bench'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverage,
    kubeApiserver: cp.version, rounds: samples.length,
    total: summary('totalMs'), kubectl: summary('kubectlMs'), afterKubectlExit: summary('afterApplyMs'), samples,
  }, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
} finally {
  for (const s of stop) await s().catch((err: unknown) => console.error(err));
  await cp.stop();
}
