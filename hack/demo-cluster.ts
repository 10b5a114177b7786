// `make demo-cluster`, inside the node's network namespace (hack/demo-cluster.sh starts the node
// and stops it afterwards): the governance guide's business-automation story of `make demo`
// (demo/business-story.ts), told on a real node as users run toolgate — `helm install` of
// charts/toolgate with the audit trails on a persistent claim, the business-automation MCP server
// as a pod behind a Service, the campaign agent (the official MCP SDK client) calling through the
// authorizer's Service, approvals by people with their own client certificates running `kubectl
// mcp approve|deny`, and the audit table read from the trails on the claim, verified.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { ApprovalRequest } from '../api/v1alpha1/index.ts';
import { auditVolume, trails, verifyWithPlugin } from '../test/cluster/cluster-audit.ts';
import { clusterApprover, type ClusterApprover } from '../test/cluster/cluster-approvals.ts';
import { Cluster, clusterEnv, must, readyPods, root, run, waitFor, type PodList } from '../test/cluster/cluster-support.ts';
import { agentScopes, approverGroups, businessPolicy, runBusinessStory } from './demo/business-story.ts';

const begun = performance.now();
const elapsed = () => `${Math.round((performance.now() - begun) / 1000)}s`;
const step = (text: string) => console.log(`\n\x1b[1m==> [${elapsed()}] ${text}\x1b[0m`);
const binDir = process.env.TOOLGATE_BIN_DIR ?? `${root}build/bin`;
const version = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const image = `ghcr.io/toolgate/toolgate:${version}`;
const system = 'toolgate-system';
const ns = 'demo';
const issuer = 'https://issuer.demo.toolgate.test';
const audience = 'https://toolgate.demo/mcp';
const serverHost = `business-automation.mcp-servers.svc.cluster.local`;

const env = clusterEnv();
const cluster = new Cluster(env.netns, env.kubeconfig);
const dir = await mkdtemp(join(tmpdir(), 'toolgate-demo-cluster-'));
const show = async (args: string[]) => {
  console.log(`$ kubectl ${args.join(' ')}`);
  process.stdout.write(await cluster.kubectl(args));
};
/** `kubectl ...` as a person (their kubeconfig), kubectl finding the plugin on PATH; a refusal is printed, not thrown. */
const as = async (who: ClusterApprover, args: string[]) => {
  console.log(`$ KUBECONFIG=${who.user}.kubeconfig kubectl ${args.join(' ')}`);
  const r = await run(`${binDir}/kubectl`, args, { env: { KUBECONFIG: who.kubeconfig, PATH: `${binDir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` } });
  process.stdout.write(r.stdout + r.stderr);
};

async function bundleTlsSecret(): Promise<void> {
  await must('bash', ['-c', `set -e; cd "${dir}"; ns=${system}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=toolgate-bundles-ca -keyout ca.key -out ca.crt 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=toolgate-bundles -keyout tls.key -out tls.csr 2>/dev/null
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -sha256 -out tls.crt 2>/dev/null \\
  -extfile <(printf 'subjectAltName=DNS:toolgate-bundles.%s.svc,DNS:toolgate-bundles.%s.svc.cluster.local\\nextendedKeyUsage=serverAuth\\n' $ns $ns)`]);
  await cluster.kubectl(['create', 'secret', 'generic', 'toolgate-bundles-tls', '-n', system, `--from-file=tls.crt=${dir}/tls.crt`, `--from-file=tls.key=${dir}/tls.key`, `--from-file=ca.crt=${dir}/ca.crt`]);
}

/** The fixture server's files and its pod entry in one ConfigMap, laid out as in the repository. */
async function businessServer(jwks: string): Promise<void> {
  const files = ['hack/demo/business-server-pod.ts', ...['data.ts', 'server.ts', 'tools.ts'].map((f) => `test/fixtures/business-automation/${f}`)];
  const data: Record<string, string> = { 'jwks.json': jwks };
  for (const f of files) data[f.replaceAll('/', '__')] = await readFile(join(root, f), 'utf8');
  const labels = { app: 'business-automation' };
  await cluster.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mcp-servers' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'business-automation', namespace: 'mcp-servers' }, data },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'business-automation', namespace: 'mcp-servers' },
      spec: {
        replicas: 1, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'server', image, imagePullPolicy: 'Never', command: ['node', '/app/demo/hack/demo/business-server-pod.ts'],
              ports: [{ name: 'mcp', containerPort: 8080 }, { name: 'jwks', containerPort: 8081 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'jwks' }, periodSeconds: 1 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'server', mountPath: '/app/demo', readOnly: true }],
            }],
            volumes: [{ name: 'server', configMap: { name: 'business-automation', items: Object.keys(data).map((k) => ({ key: k, path: k.replaceAll('__', '/') })) } }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'business-automation', namespace: 'mcp-servers' }, spec: { selector: labels, ports: [{ name: 'mcp', port: 8080, targetPort: 'mcp' }, { name: 'jwks', port: 8081, targetPort: 'jwks' }] } },
  ]);
}

const pods = (namespace: string, selector: string) => cluster.getJson<PodList>(['get', 'pods', '-n', namespace, '-l', selector]);

try {
  step(`a real node is up (hack/cluster/up.sh, image ${image} imported); installing toolgate with helm`);
  await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: system, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }]);
  await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }]);
  await bundleTlsSecret();
  const audit = await auditVolume(cluster, dir, system);
  console.log(`bundle TLS Secret, audit signing and digest key Secrets, and claim ${audit.claim} (a directory of this machine: ${audit.dir}) made`);
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'demo', alg: 'ES256', use: 'sig' }] });
  await businessServer(jwks);
  const helmArgs = ['install', 'toolgate', join(root, 'charts/toolgate'), '-n', system, '--set', `authorizer.policies={${ns}/campaign-agent}`, '--set', `image.tag=${version}`, ...audit.helmSet];
  console.log(`$ helm ${helmArgs.join(' ').replace(root, '')}`);
  const installed = performance.now();
  process.stdout.write(await cluster.helm(helmArgs, { timeoutMs: 180_000 }));
  await waitFor('the toolgate CRDs established', async () => (await cluster.kubectl(['wait', '--for=condition=Established', 'crd/mcpsecuritypolicies.toolgate.io', 'crd/mcpprofiles.toolgate.io', '--timeout=5s'])) || undefined, 60_000);
  await show(['apply', '--server-side', '--field-manager=demo', '-f', join(root, 'profiles/business-automation.yaml')]);
  const policy = businessPolicy({
    namespace: ns, serverUrl: `http://${serverHost}:8080/mcp`, profile: 'business-automation', crmDeleteTimeout: '20s',
    identity: { issuer, audience, jwksUri: `http://${serverHost}:8081/jwks` },
  });
  console.log(`$ kubectl apply -f - <<< McpSecurityPolicy ${ns}/${policy.metadata.name} (rules: ${policy.spec.policies.map((r) => r.name).join(', ')}; default deny; forbidden scopes admin, full_access)`);
  await cluster.apply([policy]);
  await waitFor('2 operator and 2 authorizer pods Ready, the MCP server Ready', async () => {
    const [op, az, srv] = await Promise.all([pods(system, 'app.kubernetes.io/component=operator'), pods(system, 'app.kubernetes.io/component=authorizer'), pods('mcp-servers', 'app=business-automation')]);
    return readyPods(op).length === 2 && readyPods(az).length === 2 && readyPods(srv).length === 1 ? true : undefined;
  }, 300_000);
  console.log(`helm install → every pod Ready in ${Math.round((performance.now() - installed) / 1000)} s`);
  await show(['get', 'pods', '-n', system, '-o', 'wide']);
  await waitFor('the policy Distributed to the authorizers', async () => {
    const p = await cluster.getJson<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(['get', 'mcpsecuritypolicy', policy.metadata.name!, '-n', ns]);
    return p.status?.conditions?.some((c) => c.type === 'Distributed' && c.status === 'True') ? true : undefined;
  }, 120_000);
  await show(['get', 'mcpsecuritypolicy', policy.metadata.name!, '-n', ns, '-o', 'wide']);

  step('the people: each team decides what it is accountable for (client certificates from the cluster CA; toolgate-approver in namespace demo)');
  const people = {
    marketing: await clusterApprover(cluster, env.dir, dir, 'mia', approverGroups.marketing, ns),
    frontDesk: await clusterApprover(cluster, env.dir, dir, 'fred', approverGroups.frontDesk, ns),
    finance: await clusterApprover(cluster, env.dir, dir, 'fin', approverGroups.finance, ns),
    dataStewards: await clusterApprover(cluster, env.dir, dir, 'dana', approverGroups.dataStewards, ns),
  };
  // alice runs the campaign agent and is a marketing lead too: she still may not approve her own agent's call.
  const alice = await clusterApprover(cluster, env.dir, dir, 'alice', approverGroups.marketing, ns);
  console.log(Object.entries(people).map(([k, p]) => `${p.user} (${approverGroups[k as keyof typeof people]})`).join(', ') + '; alice (marketing-leads) runs the agent');

  const svc = await cluster.getJson<{ spec: { clusterIP: string } }>(['get', 'service', 'toolgate-authorizer', '-n', system]);
  const proxyUrl = `http://${svc.spec.clusterIP}:8080/mcp`;
  step(`the campaign agent (official MCP SDK client, bearer JWT with the guide's scopes) calls the authorizer Service at ${proxyUrl}`);
  console.log(`agent token: azp=campaign-agent, sub=alice, scope="${agentScopes.join(' ')}"`);
  const requests = async () => (await cluster.getJson<{ items: ApprovalRequest[] }>(['get', 'approvalrequests.toolgate.io', '-n', ns])).items;
  const started = performance.now();
  const outcomes = await runBusinessStory({
    proxyUrl,
    token: (scopes) => new SignJWT({ azp: 'campaign-agent', scope: scopes.join(' ') }).setProtectedHeader({ alg: 'ES256', kid: 'demo' })
      .setIssuer(issuer).setAudience(audience).setSubject('alice').setIssuedAt().setExpirationTime('15m').sign(privateKey),
    pendingRequest: (tool) => waitFor(`the ApprovalRequest for ${tool}`, async () => (await requests()).find((r) => r.spec.tool === tool), 60_000),
    whileHeld: async () => {
      step('four calls are held, each waiting for its team; the agent\'s requests stay open (hold mode)');
      await as(people.marketing, ['mcp', 'approvals', '-n', ns]);
      const bulk = (await requests()).find((r) => r.spec.tool === 'send_bulk_message')!;
      console.log('alice is a marketing lead, but the broadcast is her own agent\'s: the API server refuses her approval');
      await as(alice, ['mcp', 'approve', bulk.metadata.name!, '-n', ns, '--wait=0']);
      console.log('fred (front-desk) may not decide a marketing broadcast either:');
      await as(people.frontDesk, ['mcp', 'approve', bulk.metadata.name!, '-n', ns, '--wait=0']);
      step('the teams decide with kubectl mcp');
    },
    decide: async (group, verb, request, reason) => {
      const p = people[group];
      console.log(`${p.user} (${approverGroups[group]}) ${verb === 'approve' ? 'approves' : 'denies'} ${request.spec.tool}:`);
      await as(p, ['mcp', verb, request.metadata.name!, '-n', ns, '--reason', reason]);
    },
    say: (text) => console.log(`  agent: ${text}`),
  });
  const answered = outcomes.filter((o) => o.result === 'answered').length;
  console.log(`the story took ${Math.round((performance.now() - started) / 1000)} s; ${answered} calls answered, ${outcomes.length - answered} refused`);
  const reached = (await cluster.kubectl(['logs', '-n', 'mcp-servers', 'deploy/business-automation'])).split('\n')
    .filter((l) => l.includes('reached the server')).map((l) => (JSON.parse(l) as { tool: string }).tool);
  console.log(`what reached the server (its log): ${reached.join(', ')}`);
  await as(people.marketing, ['mcp', 'approvals', '-n', ns, '--all']);

  step(`what happened, from the authorizers' hash-chained trails on claim ${audit.claim}, as an auditor reads them (kubectl mcp audit verify|show --key)`);
  for (const file of (await trails(audit)).keys()) {
    const v = await verifyWithPlugin(audit, file);
    console.log(`\n${file}: ${v.result.ok ? 'ok' : 'BROKEN'}: ${v.result.summary}${v.result.records !== undefined ? `; ${v.result.records} records` : ''}`);
    // The Service kept the agent on one pod (ClientIP affinity): the other trail holds only its opening.
    if (v.result.records) await as(people.marketing, ['mcp', 'audit', 'show', join(audit.dir, file), '--key', audit.publicKey]);
  }

  const keep = process.env.DEMO_KEEP === '1';
  step(`done in ${elapsed()}. Keep exploring${keep ? '' : ' (DEMO_KEEP=1 make demo-cluster keeps the node, the people and the trails)'}:`);
  console.log([
    `  sudo ip netns exec ${env.netns} kubectl --kubeconfig ${env.kubeconfig} get pods -A`,
    `  sudo ip netns exec ${env.netns} env KUBECONFIG=${keep ? join(dir, 'mia.kubeconfig') : '<mia.kubeconfig>'} kubectl mcp approvals -n ${ns} --all`,
    `  kubectl mcp audit show ${keep ? audit.dir : '<the claim\'s directory>'}/toolgate-authorizer-0.jsonl --key ${keep ? audit.publicKey : '<public key>'}`,
    '  make cluster-down                                        # when done',
  ].join('\n'));
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  if (process.env.DEMO_KEEP !== '1') await rm(dir, { recursive: true, force: true });
}
