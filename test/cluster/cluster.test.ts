// toolgate as users run it: the image built by `make image`, a real node (hack/cluster/up.sh:
// kubelet, containerd, bridge CNI, kube-proxy, CoreDNS), `helm install` of charts/toolgate, and
// an MCP agent — the official SDK client — calling a real MCP server pod through the
// authorizer's Service: one call allowed, one refused by policy, one held until `kubectl mcp
// approve` — also across a kill of the authorizer pod holding it and of the operator leader —,
// a `helm upgrade` that rolls every pod under steady load, and what `helm uninstall` leaves.
// The audit trails go to a ReadWriteMany claim on a directory of this machine, sealed with a
// signing key from a Secret: records written before a pod kill are still there afterwards, and
// every chain verifies with `kubectl mcp audit verify --key` (docs/compliance.md A14).
// Prints the figures the issue asks for (time to a Ready node, helm install → Ready pods, image
// size, approval and pod-kill outcomes, failed decisions during the upgrade).
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/jsonrpc.ts';
import { approvalFor, approve, clusterApprover, holderOf, phaseIs, publishedCount, type ClusterApprover } from './cluster-approvals.ts';
import { auditVolume, linesOf, trails, verifyWithPlugin, type AuditVolume } from './cluster-audit.ts';
import { Cluster, cannotRun, clusterEnv, must, readyPods, root, run, waitFor, type PodList } from './cluster-support.ts';

const version = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const image = `ghcr.io/toolgate/toolgate:${version}`;
const imageArchive = join(root, `build/image/toolgate-${version}.oci.tar`);
const ns = 'toolgate-system';
const policyKey = 'default/cluster-e2e';
const issuer = 'https://issuer.cluster-e2e.toolgate.test';
const audience = 'https://toolgate.cluster-e2e.test/mcp';
const notesUrl = 'http://notes-mcp.mcp-servers.svc.cluster.local:8080';

const why = cannotRun();
if (why) console.warn(`\n########## test/cluster SKIPPED: ${why}. It needs root and network namespaces; CI runs it. ##########\n`);

const figures: Record<string, string> = {};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
let cluster: Cluster;
let dir: string;
let signingKey: CryptoKey;
let ann: ClusterApprover;
let auditVol: AuditVolume;

/** The bundle service's TLS Secret made by hand with a new CA, as config/manager/README.md tells users. */
async function bundleTlsSecret(): Promise<void> {
  const script = `set -e; cd "${dir}"; ns=${ns}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=toolgate-bundles-ca -keyout ca.key -out ca.crt
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=toolgate-bundles -keyout tls.key -out tls.csr
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -sha256 -out tls.crt \\
  -extfile <(printf 'subjectAltName=DNS:toolgate-bundles.%s.svc,DNS:toolgate-bundles.%s.svc.cluster.local\\nextendedKeyUsage=serverAuth\\n' $ns $ns)`;
  await must('bash', ['-c', script]);
  await cluster.kubectl(['create', 'secret', 'generic', 'toolgate-bundles-tls', '-n', ns,
    `--from-file=tls.crt=${dir}/tls.crt`, `--from-file=tls.key=${dir}/tls.key`, `--from-file=ca.crt=${dir}/ca.crt`]);
}

/** The MCP server pod (test/cluster/notes-server.ts from a ConfigMap, run by the toolgate image's Node) and its Service. */
async function notesServer(jwks: string): Promise<void> {
  const server = await readFile(join(root, 'test/cluster/notes-server.ts'), 'utf8');
  const labels = { app: 'notes-mcp' };
  await cluster.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mcp-servers' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'notes-server', namespace: 'mcp-servers' }, data: { 'notes-server.ts': server, 'jwks.json': jwks } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'notes-mcp', namespace: 'mcp-servers' },
      spec: {
        replicas: 1, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'server', image, imagePullPolicy: 'Never', command: ['node', '/app/notes-server/notes-server.ts'],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'server', mountPath: '/app/notes-server', readOnly: true }],
            }],
            volumes: [{ name: 'server', configMap: { name: 'notes-server' } }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'notes-mcp', namespace: 'mcp-servers' }, spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } },
  ]);
}

const notesProfile = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name: 'cluster-notes' },
  spec: {
    service: 'notes', version: '1.0.0', description: 'The notes server of the cluster test.',
    tools: [
      { name: 'read_note', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false, secretHint: false, verb: 'get', labels: ['category:notes'] },
      { name: 'delete_note', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false, secretHint: false, verb: 'delete', labels: ['category:notes'] },
      { name: 'publish_note', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true, secretHint: false, verb: 'create', labels: ['category:notes'] },
    ],
  },
};

const policy = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'cluster-e2e', namespace: 'default' },
  spec: {
    enforcement: 'enforce', defaultAction: 'deny',
    servers: [{ name: 'notes', url: `${notesUrl}/mcp`, transport: 'streamable-http' }],
    profiles: [{ name: 'cluster-notes', server: 'notes' }],
    policies: [
      { name: 'no-deleting-notes', priority: 10, when: { destructiveHint: true }, action: 'deny' },
      { name: 'publishing-needs-sre', priority: 20, when: { tools: ['publish_note'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' },
      { name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
    ],
    identity: { issuer, audience, jwksUri: `${notesUrl}/jwks` },
  },
};

async function podsOf(component: string): Promise<PodList> {
  return cluster.getJson<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/name=toolgate,app.kubernetes.io/component=${component}`]);
}

interface ClientRun { tools: string[]; outcomes: Array<{ name: string; ok: boolean; result?: { content: Array<{ text?: string }> }; error?: { code: number; message: string; data?: { rule?: string } } }> }

async function proxyUrl(): Promise<string> {
  const svc = await cluster.getJson<{ spec: { clusterIP: string } }>(['get', 'service', 'toolgate-authorizer', '-n', ns]);
  return `http://${svc.spec.clusterIP}:8080/mcp`;
}

const agentToken = (lifetime = '5m') => new SignJWT({ azp: 'cluster-agent' }).setProtectedHeader({ alg: 'ES256', kid: 'cluster-e2e' })
  .setIssuer(issuer).setAudience(audience).setSubject('alice').setIssuedAt().setExpirationTime(lifetime).sign(signingKey);

/** The official SDK client in the cluster's network namespace, through the authorizer's Service. */
async function agent(calls: Array<{ name: string; arguments: Record<string, unknown> }>): Promise<ClientRun> {
  const r = await cluster.inNetns(process.execPath, [join(root, 'test/cluster/mcp-client.ts'), await proxyUrl(), await agentToken(), JSON.stringify(calls)]);
  if (r.code !== 0) throw new Error(`MCP client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ClientRun;
}

interface HeldRun { result?: { content: Array<{ text?: string }> }; error?: { code: number; message: string }; attempts: Array<{ ended: string; detail: string }> }

/** test/cluster/held-client.ts started (not awaited): one held call, retried on a fresh session when its stream breaks. */
async function heldAgent(name: string): Promise<() => Promise<HeldRun>> {
  const running = cluster.inNetns(process.execPath, [join(root, 'test/cluster/held-client.ts'), await proxyUrl(), await agentToken('15m'), JSON.stringify({ name: 'publish_note', arguments: { name } })], { timeoutMs: 300_000 });
  return async () => {
    const r = await running;
    if (r.code !== 0) throw new Error(`held MCP client failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as HeldRun;
  };
}

type Lease = { metadata: { name: string }; spec: { holderIdentity?: string } };

/** The operator pod holding the leader Lease. */
async function operatorLeader(): Promise<string | undefined> {
  const operators = new Set((await podsOf('operator')).items.map((p) => p.metadata.name));
  const leases = await cluster.getJson<{ items: Lease[] }>(['get', 'leases', '-n', ns]);
  return leases.items.find((l) => l.spec.holderIdentity && operators.has(l.spec.holderIdentity))?.spec.holderIdentity;
}

describe.skipIf(why !== undefined)('toolgate on a real node: image → helm install → Ready → MCP calls through the authorizer Service', () => {
  beforeAll(async () => {
    const env = clusterEnv();
    cluster = new Cluster(env.netns, env.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'toolgate-cluster-test-'));
    figures['image size (OCI archive)'] = `${((await stat(imageArchive)).size / 1e6).toFixed(0)} MB`;

    const upStarted = performance.now();
    const up = await run(join(root, 'hack/cluster/up.sh'), [], { env: { CLUSTER_IMAGES: imageArchive }, timeoutMs: 600_000 });
    if (up.code !== 0) throw new Error(`hack/cluster/up.sh failed:\n${up.stderr}`);
    figures['cluster-up → node Ready'] = seconds(performance.now() - upStarted);

    const { privateKey, publicKey } = await generateKeyPair('ES256');
    signingKey = privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'cluster-e2e', alg: 'ES256', use: 'sig' }] });

    await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }]);
    await bundleTlsSecret();
    auditVol = await auditVolume(cluster, dir, ns);
    await notesServer(jwks);

    const helmStarted = performance.now();
    await cluster.helm(['install', 'toolgate', join(root, 'charts/toolgate'), '-n', ns, '--set', `authorizer.policies={${policyKey}}`, '--set', `image.tag=${version}`, ...auditVol.helmSet], { timeoutMs: 180_000 });
    // The CRDs come with the chart: the profile and policy go in once they are served.
    await waitFor('the toolgate CRDs established', async () => (await cluster.kubectl(['wait', '--for=condition=Established', 'crd/mcpsecuritypolicies.toolgate.io', 'crd/mcpprofiles.toolgate.io', '--timeout=5s'])) || undefined, 60_000);
    await cluster.apply([notesProfile, policy]);
    await waitFor('2 operator and 2 authorizer pods Ready', async () => {
      const [op, az] = await Promise.all([podsOf('operator'), podsOf('authorizer')]);
      return readyPods(op).length === 2 && readyPods(az).length === 2 ? true : undefined;
    }, 300_000);
    figures['helm install → operator and authorizer pods Ready'] = seconds(performance.now() - helmStarted);
    figures['nothing → pods Ready'] = seconds(performance.now() - upStarted);
    ann = await clusterApprover(cluster, env.dir, dir, 'ann', 'sre', 'default');
    await waitFor('the notes MCP server Ready', async () => {
      const pods = await cluster.getJson<PodList>(['get', 'pods', '-n', 'mcp-servers', '-l', 'app=notes-mcp']);
      return readyPods(pods).length === 1 ? true : undefined;
    }, 120_000);
  });

  afterAll(async () => {
    if (why) return;
    console.log(`\n[toolgate] cluster test figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
    if (cluster && process.env.KEEP_CLUSTER !== '1') {
      const down = await run(join(root, 'hack/cluster/down.sh'), [], { timeoutMs: 180_000 });
      if (down.code !== 0) console.error(`hack/cluster/down.sh failed: ${down.stderr}`);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs two operator replicas, exactly one of them the leader, and two authorizer replicas, all Ready through their probes', async () => {
    const operators = await podsOf('operator');
    const authorizers = await podsOf('authorizer');
    expect(readyPods(operators).map((p) => p.metadata.name)).toHaveLength(2);
    expect(readyPods(authorizers).map((p) => p.metadata.name).sort()).toEqual(['toolgate-authorizer-0', 'toolgate-authorizer-1']);
    const leases = await cluster.getJson<{ items: Array<{ metadata: { name: string }; spec: { holderIdentity?: string } }> }>(['get', 'leases', '-n', ns]);
    const operatorNames = new Set(operators.items.map((p) => p.metadata.name));
    const led = leases.items.filter((l) => l.spec.holderIdentity && operatorNames.has(l.spec.holderIdentity));
    expect(led, `leases held by an operator pod: ${JSON.stringify(leases.items.map((l) => [l.metadata.name, l.spec.holderIdentity]))}`).toHaveLength(1);
    // The probes decide readiness: the pods are Ready because /readyz answered, not because they started.
    const sts = await cluster.getJson<{ spec: { template: { spec: { containers: Array<{ readinessProbe?: { httpGet?: { path: string } } }> } } } }>(['get', 'statefulset', 'toolgate-authorizer', '-n', ns]);
    expect(sts.spec.template.spec.containers[0]!.readinessProbe?.httpGet?.path).toBe('/readyz');
  });

  it('the policy applied with kubectl reaches the authorizers, which allow the read and refuse the delete', async () => {
    const run1 = await waitFor('the authorizer to serve the policy', async () => {
      const r = await agent([{ name: 'read_note', arguments: { name: 'welcome' } }, { name: 'delete_note', arguments: { name: 'welcome' } }]);
      return r.outcomes[0]?.ok ? r : undefined;
    }, 120_000);
    expect(run1.tools).toContain('read_note');
    const [read, del] = run1.outcomes;
    expect(read!.ok).toBe(true);
    expect(read!.result!.content[0]!.text).toBe('toolgate runs on a real node');
    expect(del!.ok).toBe(false);
    expect(del!.error!.code).toBe(ErrorCodes.policyDenied);
    expect(del!.error!.data?.rule).toBe('no-deleting-notes');
    // The refusal happened at the authorizer: the server never ran the delete, and the note is still there.
    const logs = await cluster.kubectl(['logs', '-n', 'mcp-servers', 'deploy/notes-mcp']);
    expect(logs).not.toContain('"msg":"deleted"');
    const again = await agent([{ name: 'read_note', arguments: { name: 'welcome' } }]);
    expect(again.outcomes[0]!.result!.content[0]!.text).toBe('toolgate runs on a real node');
  });

  it('audit records survive an authorizer pod kill: on the claim, every record written before kubectl delete pod is still there and every chain verifies to its signed checkpoints', async () => {
    const decisionsFor = (text: string, marker: string) => linesOf(text).filter((l) => l.type === 'decision' && l.arguments?.name === marker);
    const before = await agent([{ name: 'read_note', arguments: { name: 'audit-before-kill' } }, { name: 'delete_note', arguments: { name: 'audit-before-kill' } }]);
    expect(before.outcomes.map((o) => o.ok)).toEqual([true, false]);
    // The gate lets a call through only once its decision is on disk: no waiting needed here.
    const snapshot = await trails(auditVol);
    const writers = [...snapshot].filter(([, text]) => decisionsFor(text, 'audit-before-kill').length > 0);
    expect(writers.map(([f]) => f), `files holding the calls before the kill: ${[...snapshot.keys()].join(', ')}`).toHaveLength(1);
    const [file, written] = writers[0]!;
    expect(decisionsFor(written, 'audit-before-kill').map((l) => [l.tool, l.action, l.rule])).toEqual([['read_note', 'allow', 'read-only'], ['delete_note', 'deny', 'no-deleting-notes']]);
    const pod = file.replace(/\.jsonl$/, '');
    const old = await cluster.getJson<{ metadata: { uid: string } }>(['get', 'pod', pod, '-n', ns]);

    await cluster.kubectl(['delete', 'pod', pod, '-n', ns, '--wait=false']);
    await waitFor(`a new ${pod} Ready`, async () => {
      const p = (await podsOf('authorizer')).items.find((x) => x.metadata.name === pod) as { metadata: { uid?: string } } | undefined;
      return p && p.metadata.uid !== old.metadata.uid && readyPods(await podsOf('authorizer')).length === 2 ? true : undefined;
    }, 240_000);
    const after = await waitFor('decisions after the kill', async () => {
      const r = await agent([{ name: 'read_note', arguments: { name: 'audit-after-kill' } }, { name: 'delete_note', arguments: { name: 'audit-after-kill' } }]);
      return r.outcomes[0]?.ok ? r : undefined;
    }, 60_000);
    expect(after.outcomes.map((o) => o.ok)).toEqual([true, false]);

    const now = await trails(auditVol);
    // Nothing written before the kill was lost or rewritten: the old text is a prefix of the file.
    expect(now.get(file)!.startsWith(written), `${file} no longer starts with what it held before the kill`).toBe(true);
    // The killed pod sealed its records on the way out (SIGTERM: drain, then a signed checkpoint
    // on close), before its replacement (same name, same file) chained on.
    const tail = linesOf(now.get(file)!.slice(written.length));
    const lastBefore = linesOf(written).at(-1)!;
    const firstAfter = tail.findIndex((l) => l.type === 'decision' && l.arguments?.name === 'audit-after-kill');
    const seal = tail.findIndex((l) => l.type === 'checkpoint');
    expect(seal, `no checkpoint after seq ${lastBefore.seq} in ${file}: ${JSON.stringify(tail.map((l) => [l.seq, l.type]))}`).toBeGreaterThanOrEqual(0);
    if (firstAfter >= 0) expect(seal).toBeLessThan(firstAfter);
    // The calls after the kill are recorded too, in whichever pod's file the Service chose.
    const afterFiles = [...now].filter(([, text]) => decisionsFor(text, 'audit-after-kill').length >= 2).map(([f]) => f);
    expect(afterFiles).toHaveLength(1);
    let records = 0;
    for (const f of now.keys()) {
      const v = await verifyWithPlugin(auditVol, f);
      expect(v.code, `${f}: ${v.result.summary} ${v.stderr}`).toBe(0);
      expect(v.result).toMatchObject({ ok: true, signaturesChecked: true });
      // The other pod's chain is intact but may not be sealed yet (checkpoints every minute).
      if (f === file) expect(v.result.summary).toMatch(/^intact to checkpoint \d+/);
      records += v.result.records!;
    }
    const sealed = await verifyWithPlugin(auditVol, file);
    expect(sealed.result.checkpoint!.seq).toBeGreaterThanOrEqual(lastBefore.seq);
    figures['audit trails across the authorizer pod kill'] = `${pod} deleted; ${[...now.keys()].join(', ')} on the claim, ${records} records, every chain intact (${sealed.result.summary})`;
  });

  it('kubectl delete pod of an authorizer: the other replica decides meanwhile, and the StatefulSet brings it back Ready', async () => {
    const before = await cluster.getJson<{ metadata: { uid: string } }>(['get', 'pod', 'toolgate-authorizer-0', '-n', ns]);
    await cluster.kubectl(['delete', 'pod', 'toolgate-authorizer-0', '-n', ns, '--wait=false']);
    type Slices = { items: Array<{ endpoints?: Array<{ conditions?: { ready?: boolean }; targetRef?: { name: string } }> }> };
    const readyEndpoints = async () => (await cluster.getJson<Slices>(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=toolgate-authorizer']))
      .items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).map((e) => e.targetRef?.name).sort();
    // While the deleted pod is out of the Service, the remaining replica serves every decision.
    await waitFor('the Service to route to toolgate-authorizer-1 only', async () => {
      const names = await readyEndpoints();
      return names.length === 1 && names[0] === 'toolgate-authorizer-1' ? true : undefined;
    }, 60_000);
    const during = await agent([{ name: 'read_note', arguments: { name: 'welcome' } }, { name: 'delete_note', arguments: { name: 'welcome' } }]);
    expect(during.outcomes.map((o) => o.ok)).toEqual([true, false]);
    expect(during.outcomes[1]!.error!.data?.rule).toBe('no-deleting-notes');
    const replaced = await waitFor('a new toolgate-authorizer-0 Ready and back in the Service', async () => {
      const pod = await cluster.getJson<{ metadata: { uid: string } }>(['get', 'pod', 'toolgate-authorizer-0', '-n', ns]);
      const names = await readyEndpoints();
      return pod.metadata.uid !== before.metadata.uid && names.length === 2 ? pod : undefined;
    }, 240_000);
    expect(replaced.metadata.uid).not.toBe(before.metadata.uid);
    const after = await agent([{ name: 'read_note', arguments: { name: 'welcome' } }]);
    expect(after.outcomes[0]!.ok).toBe(true);
  });

  it('a held call: the SDK client waits on its open stream until kubectl mcp approve, then gets the server\'s answer, run exactly once', async () => {
    const name = `held-${randomUUID().slice(0, 8)}`;
    const held = await heldAgent(name);
    const pending = await approvalFor(cluster, 'default', 'publish_note', name);
    expect(pending.status?.phase ?? 'Pending').toBe('Pending');
    expect(pending.spec.approvers).toEqual(['sre']);
    expect(await publishedCount(cluster, name)).toBe(0);
    const approved = performance.now();
    expect(await approve(cluster, ann, pending, 'cluster test')).toContain('ann');
    const run1 = await held();
    figures['held call: kubectl mcp approve → answer'] = seconds(performance.now() - approved);
    expect(run1.error).toBeUndefined();
    expect(run1.result!.content[0]!.text).toBe(`published ${name}`);
    expect(run1.attempts.map((a) => a.ended)).toEqual(['answered']);
    expect(await publishedCount(cluster, name)).toBe(1);
    const consumed = await approvalFor(cluster, 'default', 'publish_note', name, phaseIs('Consumed'));
    expect(['toolgate-authorizer-0', 'toolgate-authorizer-1']).toContain(consumed.status?.consumedBy);
  });

  it('kubectl delete pod of the authorizer holding the call: the agent retries on a fresh session, the approval releases it once', async () => {
    const name = `killed-${randomUUID().slice(0, 8)}`;
    const held = await heldAgent(name);
    const pending = await approvalFor(cluster, 'default', 'publish_note', name);
    const holder = await holderOf(cluster, ns, pending, ['toolgate-authorizer-0', 'toolgate-authorizer-1']);
    const before = await cluster.getJson<{ metadata: { uid: string } }>(['get', 'pod', holder, '-n', ns]);
    // A hard stop (SIGKILL after 1 s), not the graceful drain: the held connection breaks.
    await cluster.kubectl(['delete', 'pod', holder, '-n', ns, '--grace-period=1', '--wait=false']);
    await waitFor(`${holder} gone`, async () => {
      const pods = await podsOf('authorizer');
      const same = pods.items.find((p) => p.metadata.name === holder && (p as { metadata: { uid?: string } }).metadata.uid === before.metadata.uid);
      return same ? undefined : true;
    }, 60_000);
    await approve(cluster, ann, pending, 'approved after the pod holding it died');
    const run2 = await held();
    figures['authorizer pod kill mid-approval'] = `${holder} killed; released after ${run2.attempts.length} attempts (${run2.attempts.map((a) => a.ended).join(', ')}), server ran it ${await publishedCount(cluster, name)}×`;
    expect(run2.error, JSON.stringify(run2.attempts)).toBeUndefined();
    expect(run2.result!.content[0]!.text).toBe(`published ${name}`);
    expect(run2.attempts[0]!.ended).toBe('transport');
    expect(run2.attempts.at(-1)!.ended).toBe('answered');
    expect(await publishedCount(cluster, name)).toBe(1);
    const consumed = await approvalFor(cluster, 'default', 'publish_note', name, phaseIs('Consumed'));
    expect(consumed.metadata.uid).toBe(pending.metadata.uid);
    expect(['toolgate-authorizer-0', 'toolgate-authorizer-1']).toContain(consumed.status?.consumedBy);
    await waitFor('2 authorizer pods Ready again', async () => (readyPods(await podsOf('authorizer')).length === 2 ? true : undefined), 240_000);
  });

  it('kubectl delete pod of the operator leader mid-approval: the other replica leads and the call is released once', async () => {
    const leader = await waitFor('an operator leader', operatorLeader, 60_000);
    const name = `leader-${randomUUID().slice(0, 8)}`;
    const held = await heldAgent(name);
    const pending = await approvalFor(cluster, 'default', 'publish_note', name);
    const killed = performance.now();
    await cluster.kubectl(['delete', 'pod', leader, '-n', ns, '--wait=false']);
    // Decided while the leadership changes hands: the new leader must turn it into Approved.
    await approve(cluster, ann, pending, 'approved during the operator failover');
    const run3 = await held();
    const released = performance.now() - killed;
    const next = await waitFor('a new operator leader', async () => {
      const l = await operatorLeader();
      return l && l !== leader ? l : undefined;
    }, 120_000);
    figures['operator leader kill mid-approval'] = `${leader} → ${next}; held call released ${seconds(released)} after the kill, server ran it ${await publishedCount(cluster, name)}×`;
    expect(run3.error, JSON.stringify(run3.attempts)).toBeUndefined();
    expect(run3.result!.content[0]!.text).toBe(`published ${name}`);
    expect(run3.attempts.map((a) => a.ended)).toEqual(['answered']);
    expect(await publishedCount(cluster, name)).toBe(1);
    const consumed = await approvalFor(cluster, 'default', 'publish_note', name, phaseIs('Consumed'));
    expect(consumed.status?.decisions?.filter((d) => d.decision === 'approve').map((d) => d.user)).toEqual(['ann']);
    await waitFor('2 operator pods Ready again', async () => (readyPods(await podsOf('operator')).length === 2 ? true : undefined), 240_000);
  });

  it('helm upgrade rolls every operator and authorizer pod under steady load with zero failed decisions', async () => {
    const uids = async () => new Set([...(await podsOf('operator')).items, ...(await podsOf('authorizer')).items].map((p) => (p as { metadata: { uid?: string } }).metadata.uid));
    const before = await uids();
    const stop = join(dir, 'stop-load');
    const load = cluster.inNetns(process.execPath, [join(root, 'test/cluster/load-client.ts'), await proxyUrl(), await agentToken('30m'), stop, '150', 'toolgate runs on a real node'], { timeoutMs: 900_000 });
    await new Promise((r) => setTimeout(r, 5000));
    const started = performance.now();
    // Changed values that roll both workloads: the authorizers' shutdown delay, the operators' CPU request.
    await cluster.helm(['upgrade', 'toolgate', join(root, 'charts/toolgate'), '-n', ns, '--reuse-values',
      '--set', 'authorizer.shutdown.delaySeconds=6', '--set', 'operator.resources.requests.cpu=60m', '--wait', '--timeout', '6m'], { timeoutMs: 400_000 });
    await waitFor('every pod replaced and 2 + 2 Ready', async () => {
      const [op, az] = await Promise.all([podsOf('operator'), podsOf('authorizer')]);
      const all = [...op.items, ...az.items];
      const fresh = all.every((p) => !before.has((p as { metadata: { uid?: string } }).metadata.uid));
      return fresh && op.items.length === 2 && az.items.length === 2 && readyPods(op).length === 2 && readyPods(az).length === 2 ? true : undefined;
    }, 300_000);
    figures['helm upgrade → every pod replaced and Ready'] = seconds(performance.now() - started);
    await new Promise((r) => setTimeout(r, 5000));
    await writeFile(stop, '');
    const r = await load;
    if (r.code !== 0) throw new Error(`load client failed: ${r.stderr}`);
    const counts = JSON.parse(r.stdout) as { attempted: number; succeeded: number; failed: number; reconnects: number; failures: string[]; transportErrors: Record<string, number> };
    figures['helm upgrade under load'] = `${counts.attempted} calls attempted, ${counts.succeeded} succeeded, ${counts.failed} failed decisions, ${counts.reconnects} clean reconnects (${JSON.stringify(counts.transportErrors)})`;
    const sts = await cluster.getJson<{ spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } } }>(['get', 'statefulset', 'toolgate-authorizer', '-n', ns]);
    expect(sts.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'SHUTDOWN_DELAY_SECONDS')?.value).toBe('6');
    expect(counts.attempted).toBeGreaterThan(30);
    expect(counts.failed, counts.failures.join('\n')).toBe(0);
    expect(counts.succeeded).toBe(counts.attempted);
  });

  it('helm uninstall leaves only what charts/toolgate/README.md says it keeps', async () => {
    await cluster.helm(['uninstall', 'toolgate', '-n', ns, '--wait', '--timeout', '3m'], { timeoutMs: 200_000 });
    await waitFor('the toolgate pods gone', async () => ((await cluster.kubectl(['get', 'pods', '-n', ns, '-o', 'name'])).trim() === '' ? true : undefined), 120_000);
    const names = async (args: string[]) => (await cluster.kubectl([...args, '-o', 'name'])).split('\n').filter(Boolean);
    const namespaced = await names(['get', 'all,configmaps,secrets,serviceaccounts,roles,rolebindings,leases,poddisruptionbudgets,networkpolicies', '-n', ns]);
    const clusterWide = (await names(['get', 'customresourcedefinitions,clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings']))
      .filter((n) => n.includes('toolgate'));
    const requests = await names(['get', 'approvalrequests.toolgate.io', '-n', 'default']);
    const left = [...namespaced.filter((n) => !['configmap/kube-root-ca.crt', 'serviceaccount/default'].includes(n)).map((n) => `${ns}: ${n}`), ...clusterWide].sort();
    figures['helm uninstall leaves'] = `${left.join(', ')}; ${requests.length} ApprovalRequests in default`;
    // charts/toolgate/README.md "Uninstalling": Helm never deletes crds/, so the CRDs and every
    // object of their kinds stay; what the operator made at run time is not Helm's to delete; the
    // namespace and the bundle TLS Secret were the installer's.
    expect(left).toEqual([
      ...['approvalarguments', 'approvalrequests', 'mcpprofiles', 'mcpsecuritypolicies', 'mcpsessiontaints', 'mcptoolpins']
        .map((k) => `customresourcedefinition.apiextensions.k8s.io/${k}.toolgate.io`),
      `${ns}: configmap/toolgate-bundle-signing-public`,
      `${ns}: secret/toolgate-audit-digest`,
      `${ns}: secret/toolgate-audit-signing`,
      `${ns}: secret/toolgate-bundle-signing`,
      `${ns}: secret/toolgate-bundles-tls`,
    ]);
    // The leader Lease is the release's (charts/toolgate/templates/leader_lease.yaml): gone, not
    // left naming the last leader, whose own release loses the race against its RBAC's deletion.
    expect(namespaced.filter((n) => n.startsWith('lease.'))).toEqual([]);
    // The audit claim is the installer's, and so is what is on it.
    expect(await cluster.kubectl(['get', 'pvc', auditVol.claim, '-n', ns, '-o', 'name'])).toContain(`persistentvolumeclaim/${auditVol.claim}`);
    // The three held calls of the tests above: their approval history outlives the release.
    expect(requests).toHaveLength(3);
    expect(await cluster.kubectl(['get', 'namespace', ns, '-o', 'name'])).toContain(`namespace/${ns}`);
  });

  it('after every pod kill, roll and the uninstall of this run, each authorizer pod\'s trail on the claim verifies, sealed by its last stop', async () => {
    const now = await trails(auditVol);
    expect([...now.keys()]).toEqual(['toolgate-authorizer-0.jsonl', 'toolgate-authorizer-1.jsonl']);
    const summaries: string[] = [];
    for (const f of now.keys()) {
      const v = await verifyWithPlugin(auditVol, f);
      summaries.push(`${f}: ${v.result.summary}`);
      // A hard kill (the 1 s grace period above) may leave records unsealed or, cut mid-write, a
      // broken last line: verify reports either, and the test shows which.
      expect(v.code, `${f}: ${v.result.summary}`).toBe(0);
      expect(v.result.signaturesChecked).toBe(true);
      // helm uninstall stopped every pod with SIGTERM: each sealed its chain on close.
      expect(v.result.unsealed, `${f}: ${v.result.summary}`).toBe(0);
      // Each file is one chain, however many pods of that name wrote it.
      expect(linesOf(now.get(f)!).filter((l) => l.type === 'open')).toHaveLength(1);
    }
    figures['audit trails after the run'] = summaries.join('; ');
  });
});
