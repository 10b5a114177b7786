// `kubectl mcp` through the real kubectl binary (plugin discovery on PATH) against the real API
// server, as users minted with distinct names and groups: listing, approving and denying with
// the server-proven identity, refusals, and explain against a live policy the operator serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { KubeConfig } from '@kubernetes/client-node';
import type { ApprovalRequest, ApprovalRequestStatus, McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { PolicyEngine } from '../../pkg/policy/engine/index.ts';
import { policyInput } from '../../authorizer/src/gate/decision-path.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { aPolicy, aProfile, anApprovalRequest, controlPlane, mintUser, uniqueName, waitFor, withNamespace } from '../harness/kube.ts';
import { kubectlMcp } from '../harness/kubectl-plugin.ts';
import { operatorBundles } from '../harness/operator.ts';

const ns = withNamespace('kmcp');
const sfx = ns.slice(-6);
const approvers = `mail-approvers-${sfx}`;
const viewers = `viewers-${sfx}`;
const kc = new KubeConfig();
kc.loadFromFile(controlPlane().adminKubeconfig);
const admin = new KubeClient(kc);
const ar = (name?: string, subresource?: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) });
const rbac = (plural: string, name?: string, namespace?: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) });
const users: Record<'alice' | 'bob' | 'victor', string> = { alice: '', bob: '', victor: '' };

const kmcp = kubectlMcp;

/** Creates a request as admin; status is a subresource, so it is written second. */
async function request(name: string, build: (b: ReturnType<typeof anApprovalRequest>) => unknown = () => undefined, status?: ApprovalRequestStatus): Promise<ApprovalRequest> {
  const b = anApprovalRequest(name).inNamespace(ns).withApprovers([approvers]);
  build(b);
  const created = await admin.create<ApprovalRequest>(ar(), b.build());
  return status ? admin.replace<ApprovalRequest>(ar(name, 'status'), { ...created, status }, 'toolgate-operator') : created;
}
const getRequest = (name: string) => admin.get<ApprovalRequest>(ar(name));

beforeAll(async () => {
  const rules = [
    { apiGroups: ['toolgate.io'], resources: ['approvalrequests', 'mcpsecuritypolicies'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['toolgate.io'], resources: ['approvalrequests/status'], verbs: ['get', 'update'] },
  ];
  const subjects = [approvers, viewers].map((name) => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name }));
  await admin.create(rbac('roles', undefined, ns), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'mcp-approver' }, rules });
  await admin.create(rbac('rolebindings', undefined, ns), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'mcp-approver' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mcp-approver' }, subjects });
  await admin.create(rbac('clusterroles'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `kmcp-${sfx}` }, rules: [{ apiGroups: ['toolgate.io'], resources: ['mcpprofiles'], verbs: ['get'] }] });
  await admin.create(rbac('clusterrolebindings'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `kmcp-${sfx}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `kmcp-${sfx}` }, subjects });
  [users.alice, users.bob, users.victor] = await Promise.all([mintUser('alice', [approvers]), mintUser('bob', [approvers, 'oncall']), mintUser('victor', [viewers])]);
});
afterAll(async () => {
  await admin.delete(rbac('clusterrolebindings', `kmcp-${sfx}`)).catch(() => undefined);
  await admin.delete(rbac('clusterroles', `kmcp-${sfx}`)).catch(() => undefined);
});

describe('kubectl mcp approvals', () => {
  beforeAll(async () => {
    await request('pending-one');
    await request('pending-two', (b) => b.withApprovers([approvers], 2));
    await request('denied-one', undefined, { phase: 'Denied' });
  });

  it('lists pending requests by default, as a table', async () => {
    const r = await kmcp(users.alice, ['approvals', '-n', ns]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{3,}/)).toEqual(['NAME', 'PHASE', 'AGENT', 'OPERATOR', 'SERVER', 'TOOL', 'RULE', 'APPROVALS', 'EXPIRES', 'AGE']);
    expect(rows.map((l) => l.split(/\s{3,}/).slice(0, 3))).toEqual([['pending-one', 'Pending', 'agent-1'], ['pending-two', 'Pending', 'agent-1']]);
    expect(rows[1]).toMatch(/\s0\/2\s+in 59m|\s0\/2\s+in 60m/);
  });

  it('--all shows every phase; -o json is a kubectl List', async () => {
    const r = await kmcp(users.alice, ['approvals', '--all', '--namespace', ns, '-o', 'json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { kind: string; items: ApprovalRequest[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => `${i.metadata.name}:${i.status?.phase ?? 'Pending'}`).sort()).toEqual(['denied-one:Denied', 'pending-one:Pending', 'pending-two:Pending']);
  });

  it('-A adds a NAMESPACE column and needs cluster-wide list rights; -o wide adds detail', async () => {
    const all = await kmcp(controlPlane().adminKubeconfig, ['approvals', '-A', '-o', 'wide']);
    expect(all.code).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+PHASE.*AGE\s+VERB\s+LABELS\s+APPROVERS\s+POLICY\s+DECIDED BY$/);
    expect(all.stdout).toMatch(new RegExp(`^${ns}\\s+pending-two\\s+Pending\\s+.*\\s+create\\s+<none>\\s+${approvers}\\s+default/policy\\s+<none>$`, 'm'));
    const denied = await kmcp(users.alice, ['approvals', '-A']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^Error from server \(Forbidden\): .*"alice" cannot list resource "approvalrequests"/);
    expect(denied.stderr).toContain('Ask a cluster admin');
  });

  it('says so when nothing matches', async () => {
    const r = await kmcp(users.alice, ['approvals', '-n', ns, '-l', 'toolgate.io/policy=none']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: `No pending approval requests found in ${ns} namespace. (--all shows decided ones)\n` });
  });
});

describe('kubectl mcp approve / deny', () => {
  it('records one decision with the user and groups the API server proves', async () => {
    await request('quorum-two', (b) => b.withApprovers([approvers], 2));
    const r = await kmcp(users.bob, ['approve', 'quorum-two', '-n', ns, '--reason', 'looked fine']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`approvalrequest/quorum-two approved by bob (member of ${approvers})\nstill Pending (1/2 approvals)\n`);
    const got = await getRequest('quorum-two');
    expect(got.status?.decisions).toEqual([{ user: 'bob', groups: [approvers, 'oncall', 'system:authenticated'], decision: 'approve', reason: 'looked fine', time: expect.stringMatching(/Z$/) }]);
    expect(Math.abs(Date.parse(got.status!.decisions![0]!.time) - Date.now())).toBeLessThan(120_000);
    const managers = (got.metadata as { managedFields?: Array<{ manager: string; subresource?: string }> }).managedFields ?? [];
    expect(managers.some((f) => f.manager === 'kubectl-mcp' && f.subresource === 'status')).toBe(true);
    expect(got.status?.phase ?? 'Pending').toBe('Pending');
  });

  it('keeps both of two concurrent approvals (resourceVersion precondition, retried on conflict)', async () => {
    await request('concurrent', (b) => b.withApprovers([approvers], 2));
    const [a, b] = await Promise.all([users.alice, users.bob].map((u) => kmcp(u, ['approve', 'concurrent', '-n', ns, '--wait=0'])));
    expect([a!.code, b!.code, a!.stderr + b!.stderr]).toEqual([0, 0, '']);
    expect((await getRequest('concurrent')).status?.decisions?.map((d) => d.user).sort()).toEqual(['alice', 'bob']);
  });

  it('waits for the phase the decision calls for and prints it', async () => {
    await request('quorum-one');
    // Stands in for the operator's phase computation: marks the request Approved once it sees the approval.
    const phaseWriter = waitFor(async () => {
      const cur = await getRequest('quorum-one');
      if (!cur.status?.decisions?.length) return false;
      if (!cur.status.phase) await admin.replace(ar('quorum-one', 'status'), { ...cur, status: { ...cur.status, phase: 'Approved' } }, 'toolgate-operator').catch(() => undefined);
      return true;
    }, { description: 'the approval to appear', timeoutMs: 30_000 });
    const r = await kmcp(users.alice, ['approve', 'quorum-one', '-n', ns, '--wait=20s']);
    await phaseWriter;
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`approvalrequest/quorum-one approved by alice (member of ${approvers})\nphase: Approved (1/1 approvals)\n`);
  });

  it('deny requires a reason, then records it', async () => {
    await request('to-deny');
    const bare = await kmcp(users.bob, ['deny', 'to-deny', '-n', ns]);
    expect(bare).toEqual({ code: 2, stdout: '', stderr: "error: --reason is required for deny: say why, so the requester learns what to change\nSee 'kubectl mcp deny --help' for usage.\n" });
    expect((await getRequest('to-deny')).status?.decisions).toBeUndefined();
    const r = await kmcp(users.bob, ['deny', 'to-deny', '-n', ns, '--reason', 'recipient is external', '--wait=0']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`approvalrequest/to-deny denied by bob (member of ${approvers})`);
    expect((await getRequest('to-deny')).status?.decisions).toMatchObject([{ user: 'bob', decision: 'deny', reason: 'recipient is external' }]);
  });

  it('says where to look when the request does not exist', async () => {
    const r = await kmcp(users.alice, ['approve', 'nope', '-n', ns]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: approvalrequest nope not found in namespace ${ns} (try -A with \`kubectl mcp approvals\`)\n` });
  });

  it('refuses, without writing, a request that has already ended or expired', async () => {
    const approved = await request('already-approved', undefined, { phase: 'Approved' });
    const r = await kmcp(users.alice, ['approve', 'already-approved', '-n', ns]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: approvalrequest already-approved is already Approved; nothing to decide\n' });
    expect((await getRequest('already-approved')).metadata.resourceVersion).toBe(approved.metadata.resourceVersion);
    await request('expired', (b) => b.expiringAt(new Date(Date.now() - 60_000)));
    const late = await kmcp(users.bob, ['deny', 'expired', '-n', ns, '--reason', 'late']);
    expect(late.code).toBe(1);
    // An operator that expires requests may already have marked it Expired; either way nothing is written.
    expect(late.stderr).toMatch(/^error: approvalrequest expired (expired at .* \(a late decision never releases a call\)|is already Expired); nothing to decide\n$/);
    expect((await getRequest('expired')).status?.decisions).toBeUndefined();
  });

  it('takes identity only from the API server: impersonation flags are usage errors', async () => {
    for (const flag of ['--as=alice', '--user=alice']) {
      const r = await kmcp(users.victor, ['approve', 'pending-one', '-n', ns, flag]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`Unknown option '${flag.split('=')[0]}'`);
    }
  });

  it("without the admission policy, a non-approver's decision is written but does not count", async () => {
    // kubectl-mcp-admission.test.ts covers the refusal when the shipped admission policy is bound.
    await request('non-member');
    const r = await kmcp(users.victor, ['approve', 'non-member', '-n', ns, '--wait=0']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`approvalrequest/non-member approved by victor (not in an approver group: ${approvers}; this decision does not count towards approval)\nstill Pending (0/1 approvals)\n`);
  });
});

describe('kubectl mcp explain', () => {
  const profileName = uniqueName('kmcp-mail');
  let operator: RunningOperator;
  let policy: McpSecurityPolicy;

  beforeAll(async () => {
    await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles' }, aProfile(profileName).forService('mail')
      .withTool({ name: 'send_email', readOnlyHint: false, destructiveHint: false, openWorldHint: true, verb: 'create', labels: ['category:communication'] })
      .withTool({ name: 'read_email', readOnlyHint: true, verb: 'get' }).build());
    await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns }, aPolicy('mail').inNamespace(ns)
      .withServer('mail').withProfile(profileName, 'mail').withDefaultAction('deny')
      .withClassifier({ server: 'mail', tool: 'send_email', field: 'to', notContains: '@acme.com', setLabels: ['scope:external'] })
      .withPolicy({ name: 'hold-external', priority: 10, when: { labels: ['scope:external'] }, action: 'require_approval', approvers: [approvers], quorum: 2, timeout: '30m' })
      .withPolicy({ name: 'allow-read', priority: 20, when: { readOnlyHint: true }, action: 'allow' }).build());
    operator = await startOperator({ kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'kmcp', probePort: 0, probeHost: '127.0.0.1', log: pino({ level: 'silent' }), bundles: operatorBundles() });
    policy = await waitFor(async () => {
      const p = await admin.get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: 'mail' });
      return p.status?.revision ? p : undefined;
    }, { description: 'the operator to serve a revision of policy mail', timeoutMs: 30_000 });
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await admin.delete({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name: profileName }).catch(() => undefined);
  });

  const external = ['--server', 'mail', '--tool', 'send_email', '--args', '{"to":["eve@evil.example"],"subject":"hi"}', '--agent', 'bot'];

  it('prints the decision document the engine computes from the live policy', async () => {
    const r = await kmcp(users.victor, ['explain', '--policy', 'mail', '-n', ns, ...external, '-o', 'json']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const decision = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(decision).toMatchObject({ action: 'require_approval', rule: 'hold-external', approvers: [approvers], quorum: 2, timeout: '30m', verb: 'create', labels: ['category:communication', 'scope:external'] });
    const profile = await admin.get<McpProfile>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name: profileName });
    const engine = new PolicyEngine();
    await engine.load(operatorBundles().policyWasm, compilePolicy(policy, new Map([[profileName, profile]])).data);
    const input = policyInput({ server: 'mail', tool: 'send_email', arguments: { to: ['eve@evil.example'], subject: 'hi' }, caller: { subject: '', issuer: '', agent: 'bot', roles: [], scopes: [] }, frontEnd: 'proxy' });
    expect(decision).toEqual(engine.evaluate(input));
  });

  it('explains classification, rule and revision, which matches the status the operator wrote', async () => {
    const r = await kmcp(users.victor, ['explain', '--policy', 'mail', '-n', ns, ...external]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Revision:     ${policy.status!.revision}\n              matches status.revision`);
    expect(r.stdout).toMatch(/labels:\s+category:communication\s+from profile:kmcp-mail-\w+\n\s+scope:external\s+from classifiers: spec\.classifiers\[0\]\n/);
    expect(r.stdout).toMatch(/action:\s+require_approval\n\s+rule:\s+hold-external\n/);
    expect(r.stdout).toMatch(/quorum:\s+2\n\s+timeout:\s+30m/);
    expect(r.stdout.trimEnd().endsWith('Nothing was executed.')).toBe(true);
  });

  it('reads a JSON-RPC body from stdin with the proxy naming and finds the only governing policy', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'mail__read_email', arguments: { id: '1' } } });
    const r = await kmcp(users.victor, ['explain', '-n', ns, '--body', '-', '-o', 'json'], body);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'allow', rule: 'allow-read', verb: 'get', policy: { namespace: ns, name: 'mail' } });
    const notCall = await kmcp(users.victor, ['explain', '-n', ns, '--body', '-'], JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(notCall).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: --body is a "tools\/list" request; only tools\/call and resources\/read, .* requests are decided by policy\n$/) });
  });

  it('explains a resources/read: the policy\'s tool rules do not decide it, the deny default does', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'resources/read', params: { uri: 'mail://inbox/1' } });
    const r = await kmcp(users.victor, ['explain', '-n', ns, '--server', 'mail', '--body', '-'], body);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('Call:         mail / resources/read "mail://inbox/1" (kind resource)');
    expect(r.stdout).toMatch(/action:\s+deny\n\s+rule:\s+toolgate:default\n/);
  });

  it('says which policy is missing', async () => {
    const r = await kmcp(users.victor, ['explain', '--policy', 'nope', '-n', ns, ...external]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: mcpsecuritypolicy nope not found in namespace ${ns} (list them with \`kubectl get mcpsecuritypolicies -A\`)\n` });
  });
});

describe('usage errors exit 2 and point at help', () => {
  it.each([
    [['approve'], 'approve', 'NAME is required'],
    [['approvals', '-o', 'xml'], 'approvals', '--output must be one of table, wide, yaml, json; got "xml"'],
    [['approvals', '--bogus'], 'approvals', "Unknown option '--bogus'"],
    [['explain', '--server', 'mail'], 'explain', '--tool is required'],
    [['frobnicate'], '', 'unknown command "frobnicate"'],
  ])('kubectl mcp %j', async (args, command, message) => {
    const r = await kmcp(users.alice, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${message}`);
    expect(r.stderr).toContain(`See 'kubectl mcp ${command ? `${command} ` : ''}--help' for usage.`);
  });

  it('prints help with exit 0', async () => {
    const r = await kmcp(users.alice, ['approve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kubectl mcp approve NAME [--reason TEXT]');
  });
});
