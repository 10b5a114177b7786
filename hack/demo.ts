// `make demo`: a real etcd + kube-apiserver on loopback, the CRDs, the community profiles and
// the samples applied with kubectl, the operator running against it — then shows what a user
// sees: policies becoming Ready, a broken policy explained by field, and the fix. Exits when
// done; DEMO_KEEP=1 keeps everything running until Ctrl-C.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { ensurePolicyWasm } from '../authorizer/src/engine/policy-wasm.ts';
import { startOperator } from '../operator/src/operator.ts';
import { ControlPlane, binDir } from '../test/harness/controlplane.ts';

const root = join(import.meta.dirname, '..');
const step = (text: string) => console.log(`\n\x1b[1m==> ${text}\x1b[0m`);

const cp = await ControlPlane.start();
const kubectl = (...args: string[]) => {
  console.log(`$ kubectl ${args.join(' ')}`);
  try {
    const out = execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    process.stdout.write(out);
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    process.stdout.write(e.stdout ?? '');
    process.stdout.write(e.stderr ?? '');
  }
};

let stopOperator: (() => Promise<void>) | undefined;
const finish = async (code: number) => {
  await stopOperator?.();
  await cp.stop();
  process.exit(code);
};
process.on('SIGINT', () => void finish(0));
process.on('SIGTERM', () => void finish(0));

try {
  step(`kube-apiserver ${cp.version} + etcd running at ${cp.server}; CRDs installed`);
  kubectl('get', 'crd', '-l', 'app.kubernetes.io/part-of=toolgate');

  step('starting the operator (leader election, informers, status via server-side apply)');
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const operator = await startOperator({
    kubeConfig: kc, leaseNamespace: 'default', identity: 'demo', probePort: 0, probeHost: '127.0.0.1',
    bundles: { policyWasm: readFileSync(ensurePolicyWasm()), port: 0, host: '127.0.0.1' },
    log: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  });
  stopOperator = () => operator.stop();

  step('applying the community profiles and the samples');
  if (existsSync(join(root, 'profiles', 'kustomization.yaml'))) kubectl('apply', '--server-side', '--field-manager=demo', '-k', 'profiles');
  kubectl('apply', '--server-side', '--field-manager=demo', '-k', 'config/samples');
  await new Promise((r) => setTimeout(r, 1500));
  kubectl('get', 'mcpprofiles');
  kubectl('get', 'mcpsecuritypolicies,approvalrequests', '-A', '-o', 'wide');

  step('a policy that references a profile nobody installed, and a rule with a bad regex');
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '--field-manager=demo', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'broken', namespace: 'default' },
      spec: {
        servers: [{ name: 'crm', url: 'http://crm.mcp:8080/mcp' }],
        profiles: [{ name: 'crm-not-installed', server: 'crm' }],
        classifiers: [{ server: 'crm', tool: 'delete_contact', field: 'id', matches: '(?<=x)y', setLabels: ['data:pii'] }],
        policies: [{ name: 'deny-all', priority: 1, when: {}, action: 'deny' }],
      },
    }),
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  await new Promise((r) => setTimeout(r, 1500));
  kubectl('get', 'mcpsecuritypolicy', 'broken');
  kubectl('get', 'mcpsecuritypolicy', 'broken', '-o', 'jsonpath={range .status.problems[*]}{.field}: {.message}{"\\n"}{end}');
  kubectl('events', '-n', 'default', '--for', 'mcpsecuritypolicy/broken');

  step('the schema itself refuses what it can: a require_approval rule without approvers');
  try {
    execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '--field-manager=demo', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'refused', namespace: 'default' },
        spec: { servers: [{ name: 'crm', url: 'http://crm:8080/mcp' }], policies: [{ name: 'hold', priority: 1, when: {}, action: 'require_approval' }] },
      }),
      encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    process.stdout.write((err as { stderr: string }).stderr);
  }

  if (process.env.DEMO_KEEP === '1') {
    step(`still running: export KUBECONFIG=${cp.kubeconfigPath}; Ctrl-C stops everything`);
    await new Promise(() => {});
  }
  step('done');
  await finish(0);
} catch (err) {
  console.error(err);
  await finish(1);
}
