// Real parts for the held-call tests: service-account identities for the authorizer and the
// operator (TokenRequest; the authorizer's RBAC from config/authorizer), approvers as minted
// users deciding with the real `kubectl mcp` code, the operator in-process, authorizer replicas
// (proxy + ApprovalCoordinator) over the real control plane, and a pass-through recorder that
// counts what reaches upstream.
import { serviceAccountKubeConfig } from '../harness/accounts.ts';
import { bindApprovalAdmission } from '../harness/admission.ts';
import { configDocs } from '../harness/install.ts';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import type { ApprovalRequest, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { ApprovalCoordinator, approvalPolicy as policyView, argumentsDigest, type ApprovalMode } from '../../authorizer/src/approvals/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier, type TokenVerifierOptions } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { main as kubectlMcp } from '../../kubectl-mcp/commands.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import type { TestIssuer } from '../harness/jwt-issuer.ts';
import { controlPlane, mintUser, waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';
import { audience, loadPolicy } from './proxy-support.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';

export const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
export const systemNamespace = 'toolgate-system';
const group = 'toolgate.io';
const version = 'v1alpha1';
const manager = 'toolgate-approvals-e2e';
const rbacRef = (plural: string, name: string, namespace?: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, name, ...(namespace ? { namespace } : {}) });

export function adminClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(controlPlane().adminKubeconfig);
  return new KubeClient(kc);
}

/**
/**
 * The authorizer as system:serviceaccount:toolgate-system:toolgate-authorizer with the RBAC the
 * package ships (config/authorizer: cluster-wide reads, and the governed-namespace Role in
 * `namespace`), and the operator as its own service account (cluster-admin here: the operator's
 * RBAC is its own tests' subject).
 */
export async function identities(namespace: string, admin = adminClient(), cluster: { server: string; caCertPath: string } = controlPlane()): Promise<{ authorizer: KubeConfig; operator: KubeConfig }> {
  await admin.apply({ group: '', version: 'v1', plural: 'namespaces', name: systemNamespace }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: systemNamespace } }, manager);
  const shipped = parseAllDocuments(readFileSync(new URL('../../config/authorizer/authorizer_cluster_role.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
  for (const doc of shipped) await admin.apply(rbacRef(doc.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings', doc.metadata.name), doc, manager);
  for (const doc of configDocs('authorizer/authorizer_governed_namespace_role.yaml')) {
    const copy = { ...doc, metadata: { ...doc.metadata, namespace } };
    await admin.apply(rbacRef(doc.kind === 'Role' ? 'roles' : 'rolebindings', doc.metadata.name, namespace), copy, manager);
  }
  await admin.apply(rbacRef('clusterrolebindings', 'toolgate-operator-approvals-e2e'), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'toolgate-operator-approvals-e2e' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'toolgate-operator', namespace: systemNamespace }],
  }, manager);
  return {
    authorizer: await serviceAccountKubeConfig(admin, cluster, systemNamespace, 'toolgate-authorizer'),
    operator: await serviceAccountKubeConfig(admin, cluster, systemNamespace, 'toolgate-operator'),
  };
}

/** The shipped admission policy, bound to `namespace` only; resolves once enforced; returns the unbinding. */
export const bindAdmission = (namespace: string) => bindApprovalAdmission(adminClient(), namespace, manager);

/** Lets the approver groups read requests and append decisions in `namespace`. */
export async function approverRbac(namespace: string, groups: string[], admin = adminClient()): Promise<void> {
  await admin.apply(rbacRef('roles', 'approvers', namespace), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'approvers', namespace },
    rules: [
      { apiGroups: [group], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [group], resources: ['approvalrequests/status'], verbs: ['get', 'update', 'patch'] },
    ],
  }, manager);
  await admin.apply(rbacRef('rolebindings', 'approvers', namespace), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'approvers', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'approvers' },
    subjects: groups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
  }, manager);
}

export interface Approver {
  name: string;
  kubeconfig: string;
  /** `kubectl mcp approve|deny NAME -n NS` (the plugin's own code, in-process): exit code and output. */
  decide(verb: 'approve' | 'deny', request: ApprovalRequest, reason?: string): Promise<{ code: number; out: string; err: string }>;
  /** Any `kubectl mcp` command as this person (in-process). */
  mcp(args: string[]): Promise<{ code: number; out: string; err: string }>;
}

/** A person with this kubeconfig (minted client certificate by default) running `kubectl mcp`. */
export async function approver(name: string, groups: string[], kubeconfig?: string): Promise<Approver> {
  const path = kubeconfig ?? await mintUser(name, groups);
  const mcp = async (args: string[]) => {
    let out = '';
    let err = '';
    const sink = (append: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { append(String(chunk)); cb(); } });
    const code = await kubectlMcp([...args, `--kubeconfig=${path}`], sink((s) => (out += s)), sink((s) => (err += s)));
    return { code, out, err };
  };
  return {
    name, kubeconfig: path, mcp,
    decide: (verb, request, reason) => mcp([verb, request.metadata.name!, '-n', request.metadata.namespace!, '--wait=0', ...(reason ? [`--reason=${reason}`] : [])]),
  };
}

export async function startTestOperator(kubeConfig: KubeConfig, leaseNamespace: string): Promise<RunningOperator> {
  const op = await startOperator({
    kubeConfig, leaseNamespace, watchNamespace: leaseNamespace, identity: `approvals-${leaseNamespace}`, probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(), log,
    leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300, approvals: { namespaces: [leaseNamespace] },
  });
  await waitFor(() => op.isLeader(), { description: 'the operator to lead', timeoutMs: 30_000 });
  return op;
}

/** Held tools: echo (1 of sre), get-sum (2 of sre/security), get-annotated-message (expires in 4 s). */
export function approvalPolicy(namespace: string, upstream: string, issuer: TestIssuer): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace, name: 'agents' },
    spec: {
      servers: [{ name: 'everything', url: upstream }],
      profiles: [{ name: 'everything' }],
      policies: [
        { name: 'echo-needs-sre', priority: 10, when: { tools: ['echo'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' },
        { name: 'sum-needs-two', priority: 20, when: { tools: ['get-sum'] }, action: 'require_approval', approvers: ['sre', 'security'], quorum: 2 },
        { name: 'short-fuse', priority: 30, when: { tools: ['get-annotated-message'] }, action: 'require_approval', approvers: ['sre'], timeout: '4s' },
        { name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
      ],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

export interface Replica {
  pod: string;
  router: PolicyRouter;
  coordinator: ApprovalCoordinator;
  proxy: McpProxy;
  /** Loads a new revision of the policy, as a bundle update does (held calls re-check what they wait for). */
  reload(policy: McpSecurityPolicy, revision: string): Promise<void>;
  /** Calls this replica holds open right now (toolgate_approval_waiting_calls). */
  waiting(): Promise<number>;
  close(): Promise<void>;
}

/** One authorizer replica: its own router, coordinator (own watch) and proxy. */
export async function startReplica(o: { pod: string; kubeConfig: KubeConfig; policy: McpSecurityPolicy; mode?: ApprovalMode; identity?: TokenVerifierOptions }): Promise<Replica> {
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, o.policy, 'rev-1');
  const registry = new Registry();
  const coordinator = new ApprovalCoordinator({ client: new KubeClient(o.kubeConfig), pod: o.pod, log: log.child({ pod: o.pod }), registry, policy: policyView(router, (call) => gate.decisionPath.decide(call)) });
  await coordinator.start();
  const verifier = createTokenVerifier(gateway.identity!, o.identity ?? {});
  const gate: Gate = new Gate({ router, log, catalog: anyNameCatalog, approvals: coordinator, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  const proxy = await startMcpProxy({ gate, approvalMode: o.mode ?? 'hold', approvalKeepAliveMs: 200, log });
  return {
    pod: o.pod, router, coordinator, proxy,
    async reload(policy, revision) {
      await loadPolicy(router, policy, revision);
      coordinator.policyChanged();
    },
    waiting: async () => (await coordinator.metrics!.waiting.get()).values[0]?.value ?? 0,
    async close() {
      await proxy.close();
      await coordinator.stop();
    },
  };
}

/** The request a call with these arguments created (found by its digest), once it exists and matches. */
export async function requestFor(namespace: string, tool: string, args: Record<string, unknown>, predicate: (r: ApprovalRequest) => boolean = () => true): Promise<ApprovalRequest> {
  const digest = argumentsDigest(args);
  const admin = adminClient();
  return waitFor(async () => {
    const list = await admin.list<ApprovalRequest>({ group, version, plural: 'approvalrequests', namespace });
    return list.items.find((r) => r.spec.tool === tool && r.spec.argumentsDigest === digest && predicate(r));
  }, { description: `an ApprovalRequest for ${tool} ${JSON.stringify(args)} in ${namespace}`, timeoutMs: 20_000 });
}

export const phaseIs = (phase: string) => (r: ApprovalRequest) => (r.status?.phase ?? 'Pending') === phase;
