// Least privilege, proven by the real API server: the RBAC config/ ships, installed as its own
// release (test/harness/install.ts), refuses the operator and the authorizer everything they do
// not need (what an attacker holding either token tried: rewriting the operator's leader Lease
// stopped approvals being decided), and still lets both do their whole job: the operator and the
// authorizer run as their service accounts over TLS, a held call is approved with `kubectl mcp`
// and released, and the policy reports Distributed. People get the ClusterRoles for their roles.
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import type { RunningAuthorizer } from '../../authorizer/src/authorizer.ts';
import { main as kubectlMcp } from '../../kubectl-mcp/commands.ts';
import { KubeClient, KubeError, microTime, type ResourceRef } from '../../pkg/kube/client.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { admissionNames, applyAll, deleteAll, shippedAdmission, type Manifest } from '../harness/install.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { anApprovalRequest, mintUser, waitFor } from '../harness/kube.ts';
import { waitForApprovalAdmission } from '../harness/admission.ts';
import { createInstall, everythingProfile, fieldManager, policyRef, profileRef, readyz, startInstalledAuthorizer, startInstalledOperator, type TestInstall } from './install-support.ts';
import { audience, connectClient, startEverything, type EverythingServer } from './proxy-support.ts';

let install: TestInstall;
let gov: string;
let operatorSa: KubeClient;
let authorizerSa: KubeClient;
const admission: Manifest[] = [];

const lease = (namespace: string, name?: string): ResourceRef => ({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace, ...(name ? { name } : {}) });
const approvals = (namespace?: string, name?: string, subresource?: string): ResourceRef =>
  ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) });
const core = (plural: string, namespace?: string, name?: string): ResourceRef => ({ group: '', version: 'v1', plural, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) });
const leaseBody = (namespace: string, name: string, holder: string) => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: { holderIdentity: holder, leaseDurationSeconds: 30, renewTime: microTime() },
});
const request = (namespace: string, name: string): ApprovalRequest => anApprovalRequest(name).inNamespace(namespace).build();
const clientOf = (kubeconfigPath: string) => {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return new KubeClient(kc);
};

/** The HTTP status the API server answered a write with (200 when it went through). */
async function status(write: Promise<unknown>): Promise<number> {
  try {
    await write;
    return 200;
  } catch (err) {
    if (err instanceof KubeError) return err.code;
    throw err;
  }
}

beforeAll(async () => {
  install = await createInstall('lp');
  gov = install.governed[0]!;
  const { admin, namespace: sys, ungoverned } = install;
  // What already lives in the namespaces: the operator's leader Lease, someone else's Lease, an
  // unrelated Secret and ConfigMap, and a request in each of the governed and ungoverned namespaces.
  await admin.create(lease(sys), leaseBody(sys, 'toolgate-operator', 'op-somewhere'));
  await admin.create(lease(sys), leaseBody(sys, 'another-controller', 'someone'));
  await admin.create(core('secrets', sys), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'unrelated' }, stringData: { password: 'hunter2' } });
  await admin.create(core('configmaps', sys), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated' }, data: { a: '1' } });
  for (const namespace of [gov, ungoverned]) await admin.create(approvals(namespace), request(namespace, 'ar-existing'));
  operatorSa = new KubeClient((await install.account('toolgate-operator')).kubeConfig);
  authorizerSa = new KubeClient((await install.account('toolgate-authorizer')).kubeConfig);
}, 120_000);

afterAll(async () => {
  await deleteAll(install.admin, admission);
  await install?.remove();
});

describe('the authorizer\'s service account', () => {
  it('cannot touch the operator\'s leader Lease or any other Lease, only its own pods\'', async () => {
    const sys = install.namespace;
    const leader = await install.admin.get<Manifest & { metadata: { resourceVersion: string } }>(lease(sys, 'toolgate-operator'));
    expect(await status(authorizerSa.replace(lease(sys, 'toolgate-operator'), { ...leader, spec: { holderIdentity: 'attacker', leaseDurationSeconds: 3600 } }))).toBe(403);
    expect(await status(authorizerSa.mergePatch(lease(sys, 'toolgate-operator'), { spec: { holderIdentity: 'attacker' } }))).toBe(403);
    expect(await status(authorizerSa.apply(lease(sys, 'toolgate-operator'), leaseBody(sys, 'toolgate-operator', 'attacker'), 'attacker'))).toBe(403);
    expect(await status(authorizerSa.delete(lease(sys, 'toolgate-operator')))).toBe(403);
    expect(await status(authorizerSa.mergePatch(lease(sys, 'another-controller'), { spec: { holderIdentity: 'attacker' } }))).toBe(403);
    expect(await status(authorizerSa.create(lease(sys), leaseBody(sys, 'planted', 'attacker')))).toBe(403);
    // Only the StatefulSet's pods' Leases, created and renewed with server-side apply as the reporter does.
    expect(await status(authorizerSa.apply(lease(sys, 'toolgate-authorizer-toolgate-authorizer-7'), leaseBody(sys, 'toolgate-authorizer-toolgate-authorizer-7', 'x'), 'toolgate-authorizer'))).toBe(403);
    expect(await status(authorizerSa.apply(lease(sys, 'toolgate-authorizer-toolgate-authorizer-1'), leaseBody(sys, 'toolgate-authorizer-toolgate-authorizer-1', 'toolgate-authorizer-1'), 'toolgate-authorizer'))).toBe(200);
    expect(await status(authorizerSa.delete(lease(sys, 'toolgate-authorizer-toolgate-authorizer-1')))).toBe(200);
    const after = await install.admin.get<{ spec: { holderIdentity: string } }>(lease(sys, 'toolgate-operator'));
    expect(after.spec.holderIdentity).toBe('op-somewhere');
  });

  it('creates, consumes and replaces ApprovalRequests only in the governed namespaces', async () => {
    const { ungoverned } = install;
    expect(await status(authorizerSa.create(approvals(ungoverned), request(ungoverned, 'ar-planted')))).toBe(403);
    expect(await status(authorizerSa.delete(approvals(ungoverned, 'ar-existing')))).toBe(403);
    const there = await install.admin.get<ApprovalRequest>(approvals(ungoverned, 'ar-existing'));
    expect(await status(authorizerSa.replace(approvals(ungoverned, 'ar-existing', 'status'), { ...there, status: { phase: 'Consumed', consumedBy: 'x' } }))).toBe(403);
    // Its watch spans namespaces (label-selected); reading is all it may do outside the governed ones.
    expect(await status(authorizerSa.list(approvals()))).toBe(200);
    expect(await status(authorizerSa.create(approvals(gov), request(gov, 'ar-held')))).toBe(200);
    expect(await status(authorizerSa.delete(approvals(gov, 'ar-held')))).toBe(200);
  });

  it('reads no Secrets and no policies', async () => {
    expect(await status(authorizerSa.get(core('secrets', install.namespace, 'unrelated')))).toBe(403);
    expect(await status(authorizerSa.list(core('secrets', gov)))).toBe(403);
    expect(await status(authorizerSa.list({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies' }))).toBe(403);
  });
});

describe('the operator\'s service account', () => {
  it('reads and writes only its own Secret, ConfigMap and leader Lease in its namespace', async () => {
    const sys = install.namespace;
    expect(await status(operatorSa.get(core('secrets', sys, 'unrelated')))).toBe(403);
    expect(await status(operatorSa.list(core('secrets', sys)))).toBe(403);
    expect(await status(operatorSa.mergePatch(core('configmaps', sys, 'unrelated'), { data: { a: '2' } }))).toBe(403);
    expect(await status(operatorSa.apply(core('configmaps', sys, 'planted'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'planted', namespace: sys } }, 'attacker'))).toBe(403);
    expect(await status(operatorSa.mergePatch(lease(sys, 'another-controller'), { spec: { holderIdentity: 'attacker' } }))).toBe(403);
    // Its own: the signing key (not created yet: 404, so allowed) and its leader Lease.
    expect(await status(operatorSa.get(core('secrets', sys, 'toolgate-bundle-signing')))).toBe(404);
    expect(await status(operatorSa.get(lease(sys, 'toolgate-operator')))).toBe(200);
  });

  it('lists Leases in its namespace only, and decides or deletes requests only in the governed namespaces', async () => {
    const { ungoverned } = install;
    expect(await status(operatorSa.list(lease('')))).toBe(403);
    expect(await status(operatorSa.list(lease(gov)))).toBe(403);
    expect(await status(operatorSa.list(lease(install.namespace)))).toBe(200);
    expect(await status(operatorSa.delete(approvals(ungoverned, 'ar-existing')))).toBe(403);
    expect(await status(operatorSa.apply(approvals(ungoverned, 'ar-existing', 'status'),
      { apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name: 'ar-existing', namespace: ungoverned }, status: { phase: 'Approved' } }, 'toolgate-operator'))).toBe(403);
    expect(await status(operatorSa.list(approvals()))).toBe(200);
    expect(await status(operatorSa.delete(approvals(gov, 'ar-existing')))).toBe(200);
  });
});

describe('with exactly this RBAC, the operator and the authorizer do their whole job', () => {
  let operator: RunningOperator;
  let authorizer: RunningAuthorizer;
  let issuer: TestIssuer;
  let everything: EverythingServer;
  let approverKubeconfig: string;
  let analystKubeconfig: string;
  const profile = () => everythingProfile(install);

  const decide = async (kubeconfig: string, name: string): Promise<{ code: number; err: string }> => {
    let err = '';
    const sink = (append: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { append(String(chunk)); cb(); } });
    const code = await kubectlMcp(['approve', name, '-n', gov, `--kubeconfig=${kubeconfig}`, '--wait=0'], sink(() => undefined), sink((s) => (err += s)));
    return { code, err };
  };
  const bindPeople = async (role: string, group: string) => {
    const name = `${role}-${install.suffix}`;
    await install.admin.apply({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespace: gov, name }, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: gov },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${role}-${install.suffix}` },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
    }, fieldManager);
  };

  beforeAll(async () => {
    // The admission policy, bound to the governed namespace, trusting this install's accounts.
    admission.push(...shippedAdmission(install));
    await applyAll(install.admin, admission, fieldManager);
    await waitForApprovalAdmission(install.admin, gov);
    await install.admin.apply(profileRef(profile().metadata!.name!), profile(), fieldManager);
    issuer = await startJwtIssuer({ audience });
    everything = await startEverything();
    const policy: McpSecurityPolicy = {
      apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: gov },
      spec: {
        servers: [{ name: 'everything', url: everything.url }],
        profiles: [{ name: profile().metadata!.name!, server: 'everything' }],
        policies: [
          { name: 'echo-needs-sre', priority: 10, when: { tools: ['echo'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' },
          { name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
        ],
        identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
      },
    };
    await install.admin.apply(policyRef(gov), policy, fieldManager);
    await bindPeople('toolgate-approver', 'sre');
    await bindPeople('toolgate-analyst', 'analysts');
    await bindPeople('toolgate-auditor', 'compliance');
    await bindPeople('toolgate-policy-admin', 'policy-admins');
    [approverKubeconfig, analystKubeconfig] = await Promise.all([mintUser('ann', ['sre']), mintUser('dana', ['analysts'])]);
    operator = await startInstalledOperator(install);
    authorizer = await startInstalledAuthorizer(install, operator, [`${gov}/agents`], {
      approvals: { enabled: true, admission: { ...admissionNames(install), intervalMs: 500 } },
    });
  }, 180_000);

  afterAll(async () => {
    await authorizer?.stop();
    await operator?.stop();
    await Promise.all([everything?.close(), issuer?.close()]);
    await install.admin.delete(profileRef(profile().metadata!.name!)).catch(() => undefined);
  });

  it('compiles, distributes over TLS and reports: Compiled and Distributed from the authorizer\'s own Lease', async () => {
    expect(operator.bundleServer.url).toMatch(/^https:/);
    const distributed = await waitFor(async () => {
      const p = await install.admin.get<McpSecurityPolicy>(policyRef(gov));
      const c = p.status?.conditions?.find((x) => x.type === 'Distributed');
      return c?.status === 'True' ? { policy: p, condition: c } : undefined;
    }, { description: 'Distributed=True', timeoutMs: 60_000 });
    expect(distributed.policy.status?.conditions?.find((x) => x.type === 'Compiled')?.status).toBe('True');
    expect(distributed.condition.message).toMatch(/^1\/1 authorizers at revision /);
    const ready = await readyz(authorizer);
    expect(ready.status, ready.text).toBe(200);
    expect(ready.text).toContain(`guarded by ValidatingAdmissionPolicy ${admissionNames(install).policy}`);
  });

  it('holds a call, an approver approves it with kubectl mcp, the operator decides and the authorizer releases it', async () => {
    const { client } = await connectClient(authorizer.proxy!.url, await issuer.mint({ sub: 'alice', azp: 'agent-1' }));
    try {
      const call = client.callTool({ name: 'echo', arguments: { message: 'least privilege' } }, undefined, { timeout: 120_000 });
      const pending = await waitFor(async () => (await install.admin.list<ApprovalRequest>(approvals(gov))).items.find((r) => r.spec.tool === 'echo' && r.metadata.name !== 'ar-existing'),
        { description: 'the ApprovalRequest of the held call', timeoutMs: 30_000 });
      // The analyst sees it but may not decide; the approver decides.
      const analyst = await decide(analystKubeconfig, pending.metadata.name!);
      expect(analyst.code).not.toBe(0);
      expect(analyst.err).toMatch(/forbidden/i);
      const approved = await decide(approverKubeconfig, pending.metadata.name!);
      expect(approved, approved.err).toMatchObject({ code: 0 });
      const result = await call;
      expect(result.content).toEqual([{ type: 'text', text: 'Echo: least privilege' }]);
      const consumed = await waitFor(async () => {
        const r = await install.admin.get<ApprovalRequest>(approvals(gov, pending.metadata.name!));
        return r.status?.phase === 'Consumed' ? r : undefined;
      }, { description: 'the request Consumed', timeoutMs: 30_000 });
      expect(consumed.status).toMatchObject({ consumedBy: 'toolgate-authorizer-0', decisions: [{ user: 'ann', decision: 'approve' }] });
      const events = await install.admin.list<{ reason?: string; regarding?: { name?: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace: gov });
      expect(events.items.filter((e) => e.regarding?.name === pending.metadata.name).map((e) => e.reason)).toEqual(expect.arrayContaining(['ApprovalRequested', 'Approved']));
    } catch (err) {
      if (err instanceof McpError) throw new Error(`the held call failed: ${err.message}`, { cause: err });
      throw err;
    } finally {
      await client.close();
    }
  });

  it('people get what their role needs: analysts and auditors read, policy admins write policies, none of them decides', async () => {
    const [analyst, auditor, policyAdmin] = (await Promise.all([mintUser('dana', ['analysts']), mintUser('erin', ['compliance']), mintUser('pat', ['policy-admins'])])).map(clientOf);
    const [one] = (await install.admin.list<ApprovalRequest>(approvals(gov))).items;
    const statusWrite = (c: KubeClient) => c.replace(approvals(gov, one!.metadata.name!, 'status'), { ...one, status: { ...one!.status, decisions: [] } });
    for (const reader of [analyst!, auditor!, policyAdmin!]) {
      expect(await status(reader.list(approvals(gov)))).toBe(200);
      expect(await status(reader.get(policyRef(gov)))).toBe(200);
      expect(await status(statusWrite(reader))).toBe(403);
    }
    expect(await status(auditor!.list({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace: gov }))).toBe(200);
    expect(await status(analyst!.list({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace: gov }))).toBe(403);
    const edit = { apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: gov, labels: { reviewed: 'yes' } } };
    expect(await status(analyst!.apply(policyRef(gov), edit, 'dana'))).toBe(403);
    expect(await status(auditor!.apply(policyRef(gov), edit, 'erin'))).toBe(403);
    expect(await status(policyAdmin!.apply(policyRef(gov), edit, 'pat'))).toBe(200);
    // Outside the namespace they are bound in, nothing.
    expect(await status(analyst!.list(approvals(install.ungoverned)))).toBe(403);
  });
});
