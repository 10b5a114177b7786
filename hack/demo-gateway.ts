// The main job of `make demo`: toolgate's shipped RBAC and admission policy installed, the
// operator and the authorizer running as their own service accounts, the business-automation
// MCP server (test/fixtures/business-automation) behind the authorizer's proxy with the shipped
// profiles/business-automation.yaml, and the governance guide's story (demo/business-story.ts):
// a campaign agent (the official MCP SDK client) whose calls are allowed, denied, held until a
// person decides with `kubectl mcp approve|deny`, or left to expire; then the audit trail.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
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
import { startBusinessAutomationServer } from '../test/fixtures/business-automation/server.ts';
import { auditRows, formatAuditTable } from './demo/audit-table.ts';
import { agentScopes, approverGroups, businessPolicy, runBusinessStory } from './demo/business-story.ts';

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

export interface DemoHandles {
  kubeconfig: string;
  namespace: string;
  proxyUrl: string;
  policy: string;
  mintToken(): Promise<string>;
}

export async function runGatewayDemo(cp: ControlPlane, io: DemoIo): Promise<DemoHandles> {
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

  io.step('the operator and the authorizer, each as its own service account (TokenRequest); the business-automation MCP server upstream');
  const operatorKc = tokenKubeConfig(cp.env, 'toolgate-operator', await serviceAccountToken(admin, system, 'toolgate-operator'));
  const operator = await startOperator({
    kubeConfig: operatorKc, leaseNamespace: system, identity: 'toolgate-operator-demo', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: { policyWasm: readFileSync(ensurePolicyWasm()), port: 0, host: '127.0.0.1', allow: [`system:serviceaccount:${system}:toolgate-authorizer`] },
  });
  io.cleanup.push(() => operator.stop());
  const server = await startBusinessAutomationServer();
  io.cleanup.push(() => server.close());
  const issuer = await startJwtIssuer({ audience });
  io.cleanup.push(() => issuer.close());
  console.log(`business-automation MCP server (fake contacts, bookings, CRM, ads) at ${server.url}: ${server.world.contacts.length} contacts, ${server.world.bookings.length} bookings, ${server.world.crm.length} CRM records, ${server.world.campaigns.length} ad campaigns`);

  const policy: McpSecurityPolicy = businessPolicy({
    namespace: ns, serverUrl: server.url, profile: 'business-automation', crmDeleteTimeout: '20s',
    identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
  });
  const name = policy.metadata.name!;
  console.log(`$ kubectl apply -f - <<< McpSecurityPolicy ${ns}/${name} (server norg, profile business-automation; rules: ${policy.spec.policies.map((r) => r.name).join(', ')}; default deny; forbidden scopes admin, full_access)`);
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '--field-manager=demo', '-f', '-'],
    { input: JSON.stringify(policy), stdio: ['pipe', 'inherit', 'inherit'] });

  const cm = await waitFor(() => admin.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: system, name: defaultPublicKeyConfigMap }), { description: 'the bundle public key', timeoutMs: 30_000 });
  const authorizerToken = await serviceAccountToken(admin, system, 'toolgate-authorizer');
  const auditFile = join(cp.dir, 'audit.jsonl');
  const tokenPath = join(cp.dir, 'authorizer.token');
  execFileSync('sh', ['-c', `umask 077; cat > ${tokenPath}`], { input: authorizerToken });
  const authorizer = await startAuthorizer({
    kubeConfig: tokenKubeConfig(cp.env, 'toolgate-authorizer', authorizerToken), namespace: system, podName: 'toolgate-authorizer-0',
    bundleService: operator.bundleServer.url, policies: [`${ns}/${name}`], tokenPath,
    verification: { publicKeyPem: cm.data!['public.pem']!, keyId: cm.data!['key-id']!, algorithm: cm.data!.algorithm! },
    proxy: { port: 0, host: '127.0.0.1', approvalMode: 'hold' }, probePort: 0, probeHost: '127.0.0.1', reportRevisions: true,
    approvals: { enabled: true }, audit: { file: auditFile }, log,
  });
  io.cleanup.push(() => authorizer.stop());
  await waitFor(async () => authorizer.ready(), { description: 'the authorizer to load the policy', timeoutMs: 30_000 });
  await waitFor(async () => {
    const p = await admin.get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name });
    return p.status?.conditions?.some((c) => c.type === 'Distributed' && c.status === 'True');
  }, { description: 'Distributed=True', timeoutMs: 30_000 });
  await io.kubectl('get', 'mcpsecuritypolicy', name, '-n', ns, '-o', 'wide');

  io.step('the people: each team decides what it is accountable for (RBAC lets them write decisions; the admission policy decides whose count)');
  await admin.apply({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespace: ns, name: 'approvers' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'approvers', namespace: ns },
    rules: [{ apiGroups: ['toolgate.io'], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch'] }, { apiGroups: ['toolgate.io'], resources: ['approvalrequests/status'], verbs: ['get', 'update', 'patch'] }],
  }, 'demo');
  await admin.apply({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespace: ns, name: 'approvers' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'approvers', namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'approvers' },
    subjects: Object.values(approverGroups).map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
  }, 'demo');
  const people = {
    marketing: { name: 'mia', kubeconfig: await cp.mintUser('mia', [approverGroups.marketing]) },
    frontDesk: { name: 'fred', kubeconfig: await cp.mintUser('fred', [approverGroups.frontDesk]) },
    finance: { name: 'fin', kubeconfig: await cp.mintUser('fin', [approverGroups.finance]) },
    dataStewards: { name: 'dana', kubeconfig: await cp.mintUser('dana', [approverGroups.dataStewards]) },
  };
  // alice runs the campaign agent and is a marketing lead too: she still may not approve her own agent's call.
  const alice = await cp.mintUser('alice', [approverGroups.marketing]);
  console.log(Object.entries(people).map(([k, p]) => `${p.name} (${approverGroups[k as keyof typeof people]})`).join(', ') + '; alice (marketing-leads) runs the agent');

  io.step('the campaign agent (official MCP SDK client, bearer JWT with the guide\'s scopes) works through toolgate\'s proxy');
  console.log(`agent token: azp=campaign-agent, sub=alice, scope="${agentScopes.join(' ')}"`);
  const started = performance.now();
  const outcomes = await runBusinessStory({
    proxyUrl: `http://127.0.0.1:${authorizer.proxy!.port}/mcp`,
    token: (scopes) => issuer.mint({ sub: 'alice', azp: 'campaign-agent', scope: scopes.join(' ') }),
    pendingRequest: (tool) => waitFor(async () => (await admin.list<ApprovalRequest>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns }))
      .items.find((r) => r.spec.tool === tool), { description: `the ApprovalRequest for ${tool}`, timeoutMs: 30_000 }),
    whileHeld: async () => {
      io.step('four calls are held, each waiting for its team; the agent\'s requests stay open (hold mode)');
      await io.kubectl('mcp', 'approvals', '-n', ns);
      const bulk = (await admin.list<ApprovalRequest>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns })).items.find((r) => r.spec.tool === 'send_bulk_message')!;
      console.log('alice is a marketing lead, but the broadcast is her own agent\'s: the API server refuses her approval');
      await io.kubectlAs(alice, 'mcp', 'approve', bulk.metadata.name!, '-n', ns);
      console.log('fred (front-desk) may not decide a marketing broadcast either:');
      await io.kubectlAs(people.frontDesk.kubeconfig, 'mcp', 'approve', bulk.metadata.name!, '-n', ns);
      io.step('the teams decide with kubectl mcp');
    },
    decide: async (group, verb, request, reason) => {
      const p = people[group];
      console.log(`${p.name} (${approverGroups[group]}) ${verb === 'approve' ? 'approves' : 'denies'} ${request.spec.tool}:`);
      await io.kubectlAs(p.kubeconfig, 'mcp', verb, request.metadata.name!, '-n', ns, '--reason', reason);
    },
    say: (text) => console.log(`  agent: ${text}`),
  });
  const refusedConnect = outcomes.find((o) => o.tool === '(connect)');
  console.log(`the story took ${Math.round((performance.now() - started) / 1000)} s; ${outcomes.filter((o) => o.result === 'answered').length} calls answered, ${outcomes.filter((o) => o.result === 'refused').length} refused${refusedConnect?.result === 'refused' ? ' (the full_access token among them)' : ''}`);
  console.log(`what reached the server: ${server.calls.map((c) => c.name).join(', ')}`);
  await io.kubectl('mcp', 'approvals', '-n', ns, '--all');

  io.step('what happened, from the authorizer\'s hash-chained audit trail (verified)');
  await authorizer.audit?.flush();
  console.log(formatAuditTable(auditRows(readFileSync(auditFile, 'utf8'))));
  console.log(execFileSync(process.execPath, [join(import.meta.dirname, '../authorizer/src/audit/verify.ts'), auditFile], { encoding: 'utf8' }).replace(cp.dir, '$TMP').trim());

  io.step('explain, without executing anything, what the live policy decides for a broadcast to 60 contacts, and why');
  const argsFile = join(cp.dir, 'broadcast.json');
  writeFileSync(argsFile, JSON.stringify({ recipients: server.world.contacts.slice(0, 60).map((c) => c.id), body: 'Spring sale' }));
  await io.kubectl('mcp', 'explain', '-n', ns, '--policy', name, '--server', 'norg', '--tool', 'send_bulk_message', '--args-file', argsFile,
    '--agent', 'campaign-agent', '--operator', 'alice', '--scope', 'norg:messaging:bulk');

  return { kubeconfig: cp.kubeconfigPath, namespace: ns, proxyUrl: `http://127.0.0.1:${authorizer.proxy!.port}/mcp`, mintToken: () => issuer.mint({ sub: 'alice', azp: 'campaign-agent', scope: agentScopes.join(' ') }, { lifetime: 3600 }), policy: name };
}
