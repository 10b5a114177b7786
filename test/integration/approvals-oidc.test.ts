// Self-approval through identity mapping, against a kube-apiserver that authenticates people with
// OIDC tokens from the same issuer the agents use, mapping their subject to `oidc:<sub>`
// (structured authentication configuration, claimMappings.username.prefix). alice's agent holds
// a call; alice, logged in to Kubernetes as oidc:alice, must not be able to approve it. The
// policy states the mapping (identity.kubernetesUsernames) and the admission policy enforces it.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ApprovalRequest, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import type { FetchLike } from '../../authorizer/src/identity/keys.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { bindApprovalAdmission } from '../harness/admission.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { waitFor } from '../harness/kube.ts';
import { approvalPolicy, approver, approverRbac, identities, startReplica, startTestOperator, type Approver, type Replica } from './approvals-e2e-support.ts';
import { connectClient, startEverything, startUpstreamTap, type EverythingServer, type UpstreamTap } from './proxy-support.ts';

const execFileP = promisify(execFile);
const ns = 'approvals-oidc';
let dir: string;
let cp: ControlPlane;
let issuer: TestIssuer;
let admin: KubeClient;
let operator: RunningOperator;
let everything: EverythingServer;
let recorder: UpstreamTap;
let replica: Replica;
let policy: McpSecurityPolicy;
let alice: Approver;
let bob: Approver;
let unbind: () => Promise<void>;
let ids: Awaited<ReturnType<typeof identities>>;

/** A fetch trusting the issuer's self-signed certificate, for the authorizer's JWKS requests. */
function fetchTrusting(ca: string): FetchLike {
  return (url, init) => new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', ca, headers: Object.fromEntries(init.headers), signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: { 'content-type': String(res.headers['content-type'] ?? '') } })));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A person logged in to Kubernetes with an OIDC token (sub, groups) from the issuer. */
async function oidcPerson(sub: string, groups: string[]): Promise<Approver> {
  const token = await issuer.mint({ sub, aud: 'kubernetes', groups }, { lifetime: 3600 });
  const path = join(dir, `${sub}.kubeconfig`);
  await writeFile(path, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'oidc', cluster: { server: cp.server, 'certificate-authority-data': (await readFile(cp.env.caCertPath)).toString('base64') } }],
    users: [{ name: sub, user: { token } }],
    contexts: [{ name: sub, context: { cluster: 'oidc', user: sub, namespace: ns } }],
    'current-context': sub,
  }), { mode: 0o600 });
  return approver(sub, groups, path);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolgate-oidc-'));
  // The API server only talks to an https issuer; a self-signed certificate for 127.0.0.1 it is told to trust.
  await execFileP('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', join(dir, 'issuer.key'), '-out', join(dir, 'issuer.crt')]);
  const cert = await readFile(join(dir, 'issuer.crt'), 'utf8');
  issuer = await startJwtIssuer({ audience: 'https://toolgate.test/mcp', tls: { cert, key: await readFile(join(dir, 'issuer.key'), 'utf8') } });
  await writeFile(join(dir, 'authentication.yaml'), stringify({
    apiVersion: 'apiserver.config.k8s.io/v1beta1', kind: 'AuthenticationConfiguration',
    jwt: [{
      issuer: { url: issuer.issuer, audiences: ['kubernetes'], certificateAuthority: cert },
      claimMappings: { username: { claim: 'sub', prefix: 'oidc:' }, groups: { claim: 'groups', prefix: '' } },
    }],
  }));
  cp = await ControlPlane.start({ apiServerArgs: [`--authentication-config=${join(dir, 'authentication.yaml')}`] });
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  admin = new KubeClient(kc);
  await admin.apply({ group: '', version: 'v1', plural: 'namespaces', name: ns }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, 'test');
  ids = await identities(ns, admin, cp.env);
  await admin.apply({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', name: 'toolgate-operator-oidc' }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'toolgate-operator-oidc' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'toolgate-operator', namespace: 'toolgate-system' }],
  }, 'test');
  await approverRbac(ns, ['sre'], admin);
  unbind = await bindApprovalAdmission(admin, ns, 'test');
  operator = await startTestOperator(ids.operator, ns);
  everything = await startEverything();
  recorder = await startUpstreamTap(everything.url);
  policy = approvalPolicy(ns, recorder.url, issuer);
  // The API server's mapping, stated in the policy: people are oidc:<sub>, and so are agents' tokens.
  policy.spec.identity!.kubernetesUsernames = ['oidc:{operator}', 'oidc:{agent}'];
  replica = await startReplica({ pod: 'authorizer-oidc', kubeConfig: ids.authorizer, policy, identity: { fetch: fetchTrusting(cert) } });
  [alice, bob] = await Promise.all([oidcPerson('alice', ['sre']), oidcPerson('bob', ['sre'])]);
  // The JWT authenticator starts asynchronously: wait until it proves who alice is.
  await waitFor(async () => {
    const review = await new KubeClient(loadConfig(alice.kubeconfig))
      .request<{ status?: { userInfo?: { username?: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } })
      .catch(() => undefined);
    return review?.status?.userInfo?.username === 'oidc:alice';
  }, { description: 'the API server to authenticate alice\'s OIDC token as oidc:alice', timeoutMs: 60_000 });
}, 240_000);

afterAll(async () => {
  await replica?.close();
  await operator?.stop();
  await unbind?.();
  await Promise.all([recorder?.close(), everything?.close(), issuer?.close()]);
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function loadConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

const ref = (name?: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns, ...(name ? { name } : {}) });

async function requestFor(args: Record<string, unknown>): Promise<ApprovalRequest> {
  return waitFor(async () => (await admin.list<ApprovalRequest>(ref())).items.find((r) => r.spec.arguments.message === args.message), { description: 'the held call\'s ApprovalRequest' });
}

describe('identity mapping', () => {
  it('oidc:alice cannot approve the call alice\'s agent made; another approver can', async () => {
    const { client } = await connectClient(replica.proxy.url, await issuer.mint({ sub: 'alice', azp: 'agent-1' }));
    try {
      const args = { message: `mapped ${randomUUID()}` };
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 });
      call.catch(() => undefined); // awaited below; a failed assertion before that must not leave it unhandled
      const pending = await requestFor(args);
      expect(pending.spec.requester).toEqual({ agent: 'agent-1', operator: 'alice', kubernetesUsernames: ['oidc:agent-1', 'oidc:alice'] });

      const self = await alice.decide('approve', pending);
      expect(self.code).toBe(1);
      expect(self.err).toContain('oidc:alice asked for this call (spec.requester: the API server authenticates the requester as oidc:alice) and may not decide on it');
      expect((await admin.get<ApprovalRequest>(ref(pending.metadata.name))).status?.decisions ?? []).toEqual([]);
      expect(recorder.calls.filter((c) => c.name === 'echo' && c.arguments.message === args.message)).toHaveLength(0);

      const other = await bob.decide('approve', pending);
      expect(other, other.err).toMatchObject({ code: 0 });
      expect(other.out).toContain('approved by oidc:bob (member of sre)');
      expect((await call).content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
    } finally {
      await client.close();
    }
  });

  it('without the mapping recorded, the same API server lets oidc:alice approve her own call: the hole the mapping closes', async () => {
    const authorizer = new KubeClient(ids.authorizer);
    const name = `unmapped-${randomUUID().slice(0, 8)}`;
    await authorizer.create(ref(), {
      apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name, namespace: ns },
      spec: {
        requester: { agent: 'agent-1', operator: 'alice' }, policyRef: { namespace: ns, name: 'agents' }, rule: 'echo-needs-sre', server: 'everything', tool: 'echo', verb: 'create',
        arguments: {}, argumentsDigest: `sha256:${'0'.repeat(64)}`, approvers: ['sre'], quorum: 1, expiresAt: new Date(Date.now() + 600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    }, 'toolgate-authorizer');
    const self = await alice.decide('approve', await admin.get<ApprovalRequest>(ref(name)));
    expect(self, self.err).toMatchObject({ code: 0 });
    expect(self.out).toContain('approved by oidc:alice (member of sre)');
  });
});
