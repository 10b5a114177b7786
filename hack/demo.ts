// `make demo`: a real etcd + kube-apiserver on loopback, the CRDs, the community profiles and
// the samples applied with kubectl; then the main job (demo-gateway.ts): the operator and the
// authorizer as their service accounts and the agent governance guide's business-automation
// story through the proxy (allowed, denied, held until a person decides with `kubectl mcp`,
// expired, refused), told again from the audit trail; finally a broken policy explained by
// field. Exits when done; DEMO_KEEP=1 keeps everything running until Ctrl-C.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane, binDir } from '../test/harness/controlplane.ts';
import { runGatewayDemo } from './demo-gateway.ts';

const root = join(import.meta.dirname, '..');
const execFileP = promisify(execFile);
const begun = performance.now();
const elapsed = () => `${Math.round((performance.now() - begun) / 1000)}s`;
const step = (text: string) => console.log(`\n\x1b[1m==> [${elapsed()}] ${text}\x1b[0m`);

step('starting etcd and kube-apiserver on loopback (no Docker, no cluster)');
const cp = await ControlPlane.start();
// KUBECONFIG rather than --kubeconfig: kubectl refuses flags before a plugin's name (kubectl mcp).
// Asynchronous: the operator and the authorizer run in this process and must keep serving
// while kubectl (and the plugin, which waits for the operator) runs.
const kubectlAs = async (kubeconfig: string, ...args: string[]) => {
  const who = kubeconfig === cp.kubeconfigPath ? '' : `KUBECONFIG=${kubeconfig.replace(cp.dir, '$TMP')} `;
  console.log(`$ ${who}kubectl ${args.join(' ')}`);
  try {
    const { stdout } = await execFileP(join(binDir(), 'kubectl'), args, { cwd: root, encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } });
    process.stdout.write(stdout);
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    process.stdout.write(e.stdout ?? '');
    process.stdout.write(e.stderr ?? '');
  }
};
const kubectl = (...args: string[]) => kubectlAs(cp.kubeconfigPath, ...args);

const cleanup: Array<() => Promise<void>> = [];
const finish = async (code: number) => {
  for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
  await cp.stop();
  process.exit(code);
};
process.on('SIGINT', () => void finish(0));
process.on('SIGTERM', () => void finish(0));

try {
  step(`kube-apiserver ${cp.version} + etcd running at ${cp.server}; CRDs installed`);
  await kubectl('get', 'crd', '-l', 'app.kubernetes.io/part-of=toolgate');

  step('applying the community profiles and the samples');
  if (existsSync(join(root, 'profiles', 'kustomization.yaml'))) await kubectl('apply', '--server-side', '--field-manager=demo', '-k', 'profiles');
  await kubectl('apply', '--server-side', '--field-manager=demo', '-k', 'config/samples');
  await new Promise((r) => setTimeout(r, 1500));
  await kubectl('get', 'mcpprofiles');

  const demo = await runGatewayDemo(cp, { step, kubectl, kubectlAs, cleanup });

  step('every policy and approval in the cluster, as the operator sees them');
  await kubectl('get', 'mcpsecuritypolicies,approvalrequests', '-A', '-o', 'wide');

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
  await kubectl('get', 'mcpsecuritypolicy', 'broken');
  await kubectl('get', 'mcpsecuritypolicy', 'broken', '-o', 'jsonpath={range .status.problems[*]}{.field}: {.message}{"\\n"}{end}');
  await kubectl('events', '-n', 'default', '--for', 'mcpsecuritypolicy/broken');

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

  const keep = process.env.DEMO_KEEP === '1';
  step(`done in ${elapsed()}. Keep exploring${keep ? '' : ' (run `DEMO_KEEP=1 make demo` to keep everything running)'}:`);
  console.log([
    `  export KUBECONFIG=${keep ? cp.kubeconfigPath : '<the demo\'s kubeconfig, printed here with DEMO_KEEP=1>'}`,
    `  kubectl mcp approvals -n ${demo.namespace} --all          # every request and who decided it`,
    `  kubectl mcp show <request> -n ${demo.namespace}             # one request: the call, its arguments, the decisions`,
    `  kubectl mcp explain -n ${demo.namespace} --policy ${demo.policy} --server norg --tool delete_crm_record --args '{"record_id":"CRM-1001"}'`,
    `  kubectl get mcpsecuritypolicy ${demo.policy} -n ${demo.namespace} -o yaml   # the rules, and the status the operator wrote`,
    '  kubectl get mcpprofile business-automation -o yaml      # the shipped profile: hints, labels, scopes, classifiers',
    `  kubectl edit mcpsecuritypolicy ${demo.policy} -n ${demo.namespace}          # change a rule: the authorizer loads it within seconds`,
  ].join('\n'));
  if (keep) {
    console.log(`  the agent's endpoint: ${demo.proxyUrl}\n  a token for it (valid 1 h): ${await demo.mintToken()}`);
    // inspector-cli 1.0.3 finds its own package.json relative to the working directory, so it runs from its build directory.
    console.log(`  (cd node_modules/@modelcontextprotocol/inspector-cli/build && node index.js ${demo.proxyUrl} --transport http --header "Authorization: Bearer <token>" --method tools/list)`);
    console.log('Ctrl-C stops everything.');
    await new Promise(() => {});
  }
  await finish(0);
} catch (err) {
  console.error(err);
  await finish(1);
}
