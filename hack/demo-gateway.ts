// The main job of `make demo`: toolgate's shipped RBAC and admission policy installed, the
// operator and the authorizer running as their own service accounts, a real MCP server behind
// the authorizer's proxy, and an agent (the official MCP SDK client) whose calls are allowed,
// denied, or held until a human approves them with `kubectl mcp approve`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import type { ApprovalRequest, McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import { startAuthorizer } from '../authorizer/src/authorizer.ts';
import { ensurePolicyWasm } from '../pkg/policy/engine/policy-wasm.ts';
import { KubeClient } from '../pkg/kube/client.ts';
import { defaultPublicKeyConfigMap, startOperator } from '../operator/src/operator.ts';
import { serviceAccountToken, tokenKubeConfig } from '../test/harness/accounts.ts';
import { binDir, type ControlPlane } from '../test/harness/controlplane.ts';
import { applyAll, governedRbac } from '../test/harness/install.ts';
import { startJwtIssuer } from '../test/harness/jwt-issuer.ts';
import { waitFor } from '../test/harness/wait.ts';
import { connectClient, startEverything } from '../test/integration/proxy-support.ts';

const system = 'toolgate-system';
const ns = 'demo';
const audience = 'https://toolgate.demo/mcp';

export interface DemoIo {
  step(text: string): void;
  kubectl(...args: string[]): Promise<void>;
  /** Runs kubectl with another user's kubeconfig (plugins refuse flags before their name). */
  kubectlAs(kubeconfig: string, ...args: string[]): Promise<void>;
  cleanup: Array<() => Promise<void>>;
}

export async function runGatewayDemo(cp: ControlPlane, io: DemoIo): Promise<void> {
  const adminKc = new KubeConfig();
  adminKc.loadFromFile(cp.kubeconfigPath);
  const admin = new KubeClient(adminKc);
  const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

  io.step('installing toolgate\'s RBAC, the authorizer\'s RBAC and the ApprovalRequest admission policy (no webhook)');
  await io.kubectl('create', 'namespace', system);
  await io.kubectl('create', 'namespace', ns);
  await io.kubectl('apply', '--server-side', '--field-manager=demo', '-k', 'config/rbac');
  await io.kubectl('apply', '--server-side', '--field-manager=demo', '-f', 'config/authorizer/authorizer_service_account.yaml',
    '-f', 'config/authorizer/authorizer_role.yaml', '-f', 'config/authorizer/authorizer_cluster_role.yaml');
  await io.kubectl('apply', '--server-side', '--field-manager=demo', '-k', 'config/admission');
  // ApprovalRequest writes are granted per governed namespace: the demo's policy lives in `demo`.
  await applyAll(admin, governedRbac([ns]), 'demo');

  io.step('the operator and the authorizer, each as its own service account (TokenRequest); a real MCP server upstream');
  const operatorKc = tokenKubeConfig(cp.env, 'toolgate-operator', await serviceAccountToken(admin, system, 'toolgate-operator'));
  const operator = await startOperator({
    kubeConfig: operatorKc, leaseNamespace: system, identity: 'toolgate-operator-demo', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: { policyWasm: readFileSync(ensurePolicyWasm()), port: 0, host: '127.0.0.1', allow: [`system:serviceaccount:${system}:toolgate-authorizer`] },
  });
  io.cleanup.push(() => operator.stop());
  const everything = await startEverything();
  io.cleanup.push(() => everything.close());
  const issuer = await startJwtIssuer({ audience });
  io.cleanup.push(() => issuer.close());

  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: ns },
    spec: {
      servers: [{ name: 'everything', url: everything.url }],
      profiles: [{ name: 'everything' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
      policies: [
        { name: 'no-secrets', description: 'Environment variables may hold credentials.', priority: 1, when: { secretHint: true }, action: 'deny' },
        { name: 'sums-need-sre', description: 'A stand-in for any sensitive call.', priority: 5, when: { tools: ['get-sum'] }, action: 'require_approval', approvers: ['sre'], quorum: 1, timeout: '10m' },
        { name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
      ],
    },
  };
  console.log(`$ kubectl apply -f - <<< McpSecurityPolicy ${ns}/agents (governs the everything server; rules: no-secrets, sums-need-sre, read-only)`);
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '--field-manager=demo', '-f', '-'],
    { input: JSON.stringify(policy), stdio: ['pipe', 'inherit', 'inherit'] });

  const cm = await waitFor(() => admin.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: system, name: defaultPublicKeyConfigMap }), { description: 'the bundle public key', timeoutMs: 30_000 });
  const authorizerToken = await serviceAccountToken(admin, system, 'toolgate-authorizer');
  const auditFile = join(cp.dir, 'audit.jsonl');
  const tokenPath = join(cp.dir, 'authorizer.token');
  execFileSync('sh', ['-c', `umask 077; cat > ${tokenPath}`], { input: authorizerToken });
  const authorizer = await startAuthorizer({
    kubeConfig: tokenKubeConfig(cp.env, 'toolgate-authorizer', authorizerToken), namespace: system, podName: 'toolgate-authorizer-0',
    bundleService: operator.bundleServer.url, policies: [`${ns}/agents`], tokenPath,
    verification: { publicKeyPem: cm.data!['public.pem']!, keyId: cm.data!['key-id']!, algorithm: cm.data!.algorithm! },
    proxy: { port: 0, host: '127.0.0.1', approvalMode: 'hold' }, probePort: 0, probeHost: '127.0.0.1', reportRevisions: true,
    approvals: { enabled: true }, audit: { file: auditFile }, log,
  });
  io.cleanup.push(() => authorizer.stop());
  await waitFor(async () => authorizer.ready(), { description: 'the authorizer to load the policy', timeoutMs: 30_000 });
  await waitFor(async () => {
    const p = await admin.get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: 'agents' });
    return p.status?.conditions?.some((c) => c.type === 'Distributed' && c.status === 'True');
  }, { description: 'Distributed=True', timeoutMs: 30_000 });
  await io.kubectl('get', 'mcpsecuritypolicy', 'agents', '-n', ns, '-o', 'wide');
  await io.kubectl('get', 'mcpsecuritypolicy', 'agents', '-n', ns, '-o', 'jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\\n"}{end}');

  io.step('an agent (official MCP SDK client, bearer JWT) connects through the proxy');
  const { client } = await connectClient(`http://127.0.0.1:${authorizer.proxy!.port}/mcp`, await issuer.mint({ sub: 'alice', azp: 'support-agent' }));
  io.cleanup.push(() => client.close());
  const listed = (await client.listTools()).tools.map((t) => t.name);
  console.log(`tools/list shows ${listed.length} tools; get-env is hidden (rule no-secrets): ${!listed.includes('get-env')}`);
  const show = async (name: string, args: Record<string, unknown>) => {
    try {
      const r = await client.callTool({ name, arguments: args });
      console.log(`${name} ${JSON.stringify(args)} → ${JSON.stringify((r.content as Array<{ text?: string }>)[0]?.text ?? r.content)}`);
    } catch (err) {
      if (!(err instanceof McpError)) throw err;
      console.log(`${name} ${JSON.stringify(args)} → refused (${err.code}): ${err.message}`);
    }
  };
  await show('echo', { message: 'hello through toolgate' });
  await show('get-env', {});

  io.step('a held call: get-sum waits for a member of "sre" (hold mode: the agent\'s request stays open)');
  const started = performance.now();
  const held = show('get-sum', { a: 2, b: 3 });
  const request = await waitFor(async () => (await admin.list<ApprovalRequest>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns })).items[0], { description: 'the ApprovalRequest', timeoutMs: 30_000 });
  await io.kubectl('mcp', 'approvals', '-n', ns);
  await admin.apply({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespace: ns, name: 'approvers' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'approvers', namespace: ns },
    rules: [{ apiGroups: ['toolgate.io'], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch'] }, { apiGroups: ['toolgate.io'], resources: ['approvalrequests/status'], verbs: ['get', 'update', 'patch'] }],
  }, 'demo');
  await admin.apply({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespace: ns, name: 'approvers' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'approvers', namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'approvers' }, subjects: ['sre', 'marketing'].map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name })),
  }, 'demo');
  // RBAC lets both teams write decisions; toolgate's admission policy decides whose count.
  const [mallory, alice, ann] = await Promise.all([cp.mintUser('mallory', ['marketing']), cp.mintUser('alice', ['sre']), cp.mintUser('ann', ['sre'])]);
  console.log('mallory (marketing) may write decisions by RBAC, but is not an approver; the API server refuses:');
  await io.kubectlAs(mallory, 'mcp', 'approve', request.metadata.name!, '-n', ns);
  console.log('alice (sre) started the agent herself; she cannot approve her own call:');
  await io.kubectlAs(alice, 'mcp', 'approve', request.metadata.name!, '-n', ns);
  console.log('ann (sre) approves:');
  const approved = performance.now();
  await io.kubectlAs(ann, 'mcp', 'approve', request.metadata.name!, '-n', ns, '--reason', 'expected sum for the demo');
  await held;
  console.log(`the held call was answered ${Math.round(performance.now() - approved)} ms after ann ran kubectl mcp approve (${Math.round((performance.now() - started) / 1000)} s after the agent made it)`);
  await io.kubectl('mcp', 'approvals', '-n', ns, '--all');

  io.step('the evidence: the authorizer\'s hash-chained audit trail, verified');
  await authorizer.audit?.flush();
  for (const line of readFileSync(auditFile, 'utf8').trim().split('\n').slice(1)) {
    const r = JSON.parse(line) as Record<string, unknown>;
    console.log(r.type === 'decision'
      ? `#${String(r.seq)} decision ${String(r.tool)}: ${String(r.action)} by rule ${String(r.rule)} for ${JSON.stringify(r.caller)}`
      : `#${String(r.seq)} approval ${String(r.tool)}: ${String(r.outcome)}, approved by ${JSON.stringify(r.approvedBy)}, released by ${String(r.consumedBy)}`);
  }
  console.log(execFileSync(process.execPath, [join(import.meta.dirname, '../authorizer/src/audit/verify.ts'), auditFile], { encoding: 'utf8' }).replace(cp.dir, '$TMP').trim());

  io.step('explain, without executing anything, what the live policy decides and why');
  await io.kubectl('mcp', 'explain', '-n', ns, '--policy', 'agents', '--server', 'everything', '--tool', 'get-env');
}
