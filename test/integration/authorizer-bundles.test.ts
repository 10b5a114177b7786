// The authorizer's bundle client against the operator's real bundle service: service-account
// tokens minted and checked (TokenReview) by the real kube-apiserver, the signing key from a real
// Secret, a bundle compiled from an McpSecurityPolicy with the real policy.wasm. Covers fail-closed
// start, loading, long-poll pickup of new revisions, refusal of unsigned and tampered bundles,
// a service account that is not allowed, and the per-pod revision Lease (written with the
// authorizer's own token, so the RBAC it needs is exercised too).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../../api/v1alpha1/index.ts';
import { BundleClient, BundleClients, FileSource, RevisionReporter, createBundleClientMetrics, type BundleLoaded } from '../../authorizer/src/bundles/index.ts';
import { PolicyEngine } from '../../pkg/policy/engine/engine.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { ENTRYPOINTS, RULES } from '../../pkg/policy/engine/types.ts';
import { buildBundle, readBundleFiles, type BuiltBundle } from '../../pkg/bundle/bundle.ts';
import type { BundleSigner } from '../../pkg/bundle/sign.ts';
import { startBundleServer, type BundleServer } from '../../operator/src/bundle/server.ts';
import { loadOrCreateSigningKey, signerFor, type SigningKeyMaterial } from '../../operator/src/bundle/signing-key.ts';
import { BundleStore } from '../../operator/src/bundle/store.ts';
import { gzipDeterministic, writeTar } from '../../pkg/bundle/tar.ts';
import { tokenReviewAuthenticator } from '../../operator/src/bundle/token-review.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { KubeClient, isNotFound } from '../../pkg/kube/client.ts';
import { serviceAccountToken as saToken, tokenKubeConfig } from '../harness/accounts.ts';
import { aPolicy, controlPlane, waitFor, withNamespace } from '../harness/kube.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const namespace = withNamespace('authz-bundles');
const bundleName = `${namespace}/demo`;
const podName = 'authorizer-0';

let admin: KubeClient;
let server: BundleServer;
let store: BundleStore;
let key: SigningKeyMaterial;
let wasm: Buffer;
let dir: string;
let authorizerToken: string;
const registry = new Registry();
const engine = new PolicyEngine();
const loads: BundleLoaded[] = [];
let clients: BundleClients;
let reporter: RevisionReporter;

const read = { server: 'files', tool: 'read_file', arguments: { path: '/etc/motd' } };
const write = { server: 'files', tool: 'write_file', arguments: { path: '/tmp/x' } };

function policyAllowing(tools: string[]) {
  const rule: Policy = { name: 'Allow listed tools', priority: 10, when: { tools }, action: 'allow' };
  return aPolicy('demo').inNamespace(namespace).withServer('files').withDefaultAction('deny').withPolicy(rule).build();
}

async function bundleAllowing(tools: string[], signer: BundleSigner | null = signerFor(key)): Promise<BuiltBundle> {
  const compiled = compilePolicy(policyAllowing(tools), new Map());
  if (!compiled.data) throw new Error(`policy does not compile: ${JSON.stringify(compiled.problems)}`);
  return await buildBundle({
    data: compiled.data as unknown as Record<string, unknown>,
    wasm,
    entrypoints: Object.values(ENTRYPOINTS),
    roots: ['toolgate'],
    metadata: { policy: bundleName },
    ...(signer ? { signer } : {}),
  });
}

const serviceAccountToken = (name: string) => saToken(admin, namespace, name);
/** A KubeClient that is the authorizer's service account, as in a pod. */
const clientWithToken = (token: string) => new KubeClient(tokenKubeConfig(controlPlane(), 'authorizer', token));

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  const values = (await m?.get())?.values ?? [];
  return values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((n, v) => n + v.value, 0);
}

const leaseRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', name: `toolgate-authorizer-${podName}` };
interface Lease { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string } }
const getLease = () => admin.get<Lease>({ ...leaseRef, namespace });

/** A lone client of the demo bundle (beside the authorizer's own), quick to retry. */
function clientOptions(target: PolicyEngine) {
  return {
    bundle: bundleName,
    service: server.url,
    engine: target,
    verification: { keys: { [key.keyId]: { key: key.publicKeyPem, algorithm: key.algorithm } } },
    tokenPath: join(dir, 'token'),
    waitSeconds: 1,
    backoff: { initialMs: 20, maxMs: 200 },
    log,
  };
}

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(controlPlane().adminKubeconfig);
  admin = new KubeClient(kc);
  dir = await mkdtemp(join(tmpdir(), 'toolgate-authz-bundles-'));
  wasm = readFileSync(ensurePolicyWasm());
  key = await loadOrCreateSigningKey({ client: admin, namespace, log });
  authorizerToken = await serviceAccountToken('authorizer');
  await writeFile(join(dir, 'token'), authorizerToken, { mode: 0o600 });
  // The authorizer's RBAC for its revision Lease, and nothing more.
  await admin.create({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespace }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'authorizer-leases' },
    rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'patch', 'delete'] }],
  });
  await admin.create({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespace }, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'authorizer-leases' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'authorizer-leases' },
    subjects: [{ kind: 'ServiceAccount', name: 'authorizer', namespace }],
  });

  store = new BundleStore({ log });
  server = await startBundleServer({
    store,
    authenticate: tokenReviewAuthenticator({ client: admin, log }),
    allow: [`system:serviceaccount:${namespace}:authorizer`],
    port: 0,
    host: '127.0.0.1',
    log,
  });
  reporter = new RevisionReporter({ client: clientWithToken(authorizerToken), namespace, podName, renewIntervalMs: 300, log });
  clients = new BundleClients({
    bundles: new Map([[bundleName, engine]]),
    service: server.url,
    verification: { keys: { [key.keyId]: { key: key.publicKeyPem, algorithm: key.algorithm } } },
    tokenPath: join(dir, 'token'),
    waitSeconds: 1,
    minDelayMs: 200,
    backoff: { initialMs: 50, maxMs: 400 },
    registry,
    reporter,
    log,
    onLoaded: (loaded) => loads.push(loaded),
  });
}, 120_000);

afterAll(async () => {
  await clients?.stop();
  await reporter?.stop();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('authorizer bundle client', () => {
  it('denies every call and is not ready before the first bundle', async () => {
    clients.start();
    await reporter.start();
    expect(clients.ready).toBe(false);
    expect(clients.readiness()).toMatchObject({ ok: false, detail: expect.stringContaining(bundleName) as unknown });
    expect(engine.evaluate(read)).toMatchObject({ action: 'deny', rule: RULES.noPolicy });
    // The bundle does not exist yet: the client backs off on 404s and stays fail-closed.
    await waitFor(async () => (await metric('toolgate_authorizer_bundle_polls_total', { outcome: '404' })) >= 2, { description: 'two 404 polls' });
    expect(clients.clients.get(bundleName)?.lastError).toMatch(/HTTP 404: bundle .* not found/);
    expect(engine.evaluate(read).rule).toBe(RULES.noPolicy);
    expect((await getLease()).metadata.annotations?.['toolgate.io/bundle-revisions']).toBe('{}');
  });

  it('loads the signed bundle and decides by the policy', async () => {
    const v1 = await bundleAllowing(['read_file']);
    store.put(bundleName, v1);
    await waitFor(() => clients.ready, { description: 'the first load' });
    expect(engine.current?.revision).toBe(v1.revision);
    expect(engine.evaluate(read)).toMatchObject({ action: 'allow', rule: 'Allow listed tools' });
    expect(engine.evaluate(write)).toMatchObject({ action: 'deny' });
    expect(loads.at(-1)).toMatchObject({ bundle: bundleName, revision: v1.revision, previous: undefined, gateway: { policy: { namespace, name: 'demo' }, servers: [{ name: 'files' }] } });
    expect(clients.readiness().ok).toBe(true);
    expect(await metric('toolgate_authorizer_bundle_info', { bundle: bundleName, revision: v1.revision })).toBe(1);
    expect(await metric('toolgate_authorizer_bundle_loads_total', { bundle: bundleName, result: 'success' })).toBe(1);
    expect(await metric('toolgate_authorizer_bundle_last_load_timestamp_seconds', { bundle: bundleName })).toBeGreaterThan(0);
  });

  it('reports the revision in a renewed per-pod Lease', async () => {
    const revision = engine.current?.revision ?? '';
    const lease = await waitFor(async () => {
      const l = await getLease();
      return l.metadata.annotations?.['toolgate.io/bundle-revisions'] === JSON.stringify({ [bundleName]: revision }) ? l : undefined;
    }, { description: 'the Lease to carry the loaded revision' });
    expect(lease.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'authorizer', 'toolgate.io/authorizer': 'true' });
    expect(lease.spec).toMatchObject({ holderIdentity: podName, leaseDurationSeconds: 30 });
    const renewed = lease.spec.renewTime ?? '';
    await waitFor(async () => ((await getLease()).spec.renewTime ?? '') > renewed, { description: 'the Lease to be renewed' });
  });

  it('picks up a new revision on the held long poll, without a busy loop', async () => {
    const polls = () => metric('toolgate_authorizer_bundle_polls_total', { bundle: bundleName });
    // Idle: every poll is held ~1 s by the service (wait=1), then answered 304.
    const idleStart = await polls();
    await sleep(2_000);
    const idlePolls = (await polls()) - idleStart;
    expect(idlePolls).toBeGreaterThanOrEqual(1);
    expect(idlePolls).toBeLessThanOrEqual(6);

    await waitFor(() => store.waiting(bundleName) === 1, { description: 'a held long poll' });
    const ok = await metric('toolgate_authorizer_bundle_polls_total', { outcome: '200' });
    const v2 = await bundleAllowing(['read_file', 'write_file']);
    store.put(bundleName, v2);
    await waitFor(() => engine.current?.revision === v2.revision, { description: 'revision 2 in force' });
    expect(await metric('toolgate_authorizer_bundle_polls_total', { outcome: '200' })).toBe(ok + 1);
    expect(engine.evaluate(write)).toMatchObject({ action: 'allow' });
    expect(loads.at(-1)).toMatchObject({ revision: v2.revision, previous: loads.at(-2)?.revision });
    // The old revision's info series is gone, the new one is 1.
    const info = (await registry.getSingleMetric('toolgate_authorizer_bundle_info')?.get())?.values ?? [];
    expect(info).toEqual([expect.objectContaining({ labels: { bundle: bundleName, revision: v2.revision }, value: 1 })]);
    await waitFor(async () => (await getLease()).metadata.annotations?.['toolgate.io/bundle-revisions'] === JSON.stringify({ [bundleName]: v2.revision }), { description: 'the Lease to follow' });
  });

  it('refuses unsigned, re-signed and tampered bundles and keeps the last good revision', async () => {
    const good = engine.current?.revision;
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const unsigned = await bundleAllowing(['read_file', 'write_file', 'delete_file'], null);
    const resigned = await bundleAllowing(['read_file', 'write_file', 'drop_database'], { key: other, algorithm: 'RS256', keyId: key.keyId });
    const genuine = await bundleAllowing(['read_file', 'write_file', 'rm_rf']);
    const files = await readBundleFiles(genuine.archive);
    const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '{}') as { toolgate: { compiled: { defaultAction?: string } } };
    data.toolgate.compiled.defaultAction = 'allow';
    files.set('data.json', Buffer.from(JSON.stringify(data)));
    const tampered = { revision: `${genuine.revision}-t`, archive: gzipDeterministic(await writeTar([...files].map(([name, d]) => ({ name: `/${name}`, data: d })))) };

    const cases = [
      { what: 'unsigned', bundle: unsigned, reason: /bundle is not signed/ },
      { what: 're-signed with another key', bundle: resigned, reason: /failed to verify the bundle signature with key toolgate/ },
      { what: 'modified after signing', bundle: tampered, reason: /data\.json: digest mismatch/ },
    ];
    for (const c of cases) {
      const refused = await metric('toolgate_authorizer_bundle_loads_total', { result: 'signature' });
      store.put(bundleName, c.bundle);
      await waitFor(async () => (await metric('toolgate_authorizer_bundle_loads_total', { result: 'signature' })) === refused + 1, { description: `refusal of the ${c.what} bundle` });
      expect(clients.clients.get(bundleName)?.lastError, c.what).toMatch(c.reason);
      expect(engine.current?.revision, c.what).toBe(good);
      expect(engine.evaluate({ server: 'files', tool: 'drop_database' }).action, c.what).toBe('deny');
      expect(engine.evaluate({ server: 'files', tool: 'delete_file' }).action, c.what).toBe('deny');
      expect(clients.ready).toBe(true);
    }
    // The refused revision is not downloaded again and again: the client waits for a new one.
    const downloads = await metric('toolgate_authorizer_bundle_polls_total', { outcome: '200' });
    await waitFor(() => store.waiting(bundleName) === 1, { description: 'a long poll held on the refused revision' });
    expect(await metric('toolgate_authorizer_bundle_polls_total', { outcome: '200' })).toBe(downloads);
    expect((await getLease()).metadata.annotations?.['toolgate.io/bundle-revisions']).toBe(JSON.stringify({ [bundleName]: good }));

    store.put(bundleName, genuine);
    await waitFor(() => engine.current?.revision === genuine.revision, { description: 'recovery with a correctly signed bundle' });
    expect(engine.evaluate({ server: 'files', tool: 'rm_rf' }).action).toBe('allow');
  });

  it('gets 403 with a service account that is not allowed, and keeps backing off', async () => {
    const intruderToken = await serviceAccountToken('intruder');
    await writeFile(join(dir, 'intruder-token'), intruderToken, { mode: 0o600 });
    const intruderEngine = new PolicyEngine();
    const metrics = createBundleClientMetrics(new Registry());
    const intruder = new BundleClient({ ...clientOptions(intruderEngine), tokenPath: join(dir, 'intruder-token'), metrics });
    intruder.start();
    try {
      await waitFor(async () => ((await metrics.polls.get()).values.find((v) => v.labels.outcome === '403')?.value ?? 0) >= 4, { description: 'four 403 answers' });
    } finally {
      await intruder.stop();
    }
    expect(intruder.lastError).toBe(`bundle service refused /bundles/${bundleName}: HTTP 403: system:serviceaccount:${namespace}:intruder may not pull bundles`);
    expect(intruder.ready).toBe(false);
    expect(intruderEngine.evaluate(read)).toMatchObject({ action: 'deny', rule: RULES.noPolicy });
    expect((await metrics.polls.get()).values.filter((v) => v.labels.outcome !== '403')).toEqual([]);
  });

  it('re-reads a rotated token at once after a 401', async () => {
    const tokenFile = join(dir, 'rotating-token');
    await writeFile(tokenFile, 'expired.token.value', { mode: 0o600 });
    const rotatingEngine = new PolicyEngine();
    const metrics = createBundleClientMetrics(new Registry());
    // The periodic re-read is an hour away: only the 401 can make the client read the file again.
    const client = new BundleClient({ ...clientOptions(rotatingEngine), token: new FileSource({ path: tokenFile, what: 'token', refreshMs: 3_600_000 }), metrics });
    client.start();
    try {
      await waitFor(async () => ((await metrics.polls.get()).values.find((v) => v.labels.outcome === '401')?.value ?? 0) >= 1, { description: 'a 401' });
      expect(client.lastError).toMatch(/HTTP 401: the bearer token was rejected/);
      await writeFile(tokenFile, authorizerToken);
      await waitFor(() => client.ready, { description: 'a load with the rotated token' });
      expect(rotatingEngine.current?.revision).toBe(engine.current?.revision);
    } finally {
      await client.stop();
    }
  });

  it('verifies the service against the CA file over https', async () => {
    const cp = controlPlane();
    // The API server's serving certificate (SAN 127.0.0.1, issued by the test CA) doubles as the operator's.
    const tls = { cert: readFileSync(join(cp.dir, 'apiserver.crt')), key: readFileSync(join(cp.dir, 'apiserver.key')) };
    const httpsServer = await startBundleServer({ store, authenticate: tokenReviewAuthenticator({ client: admin, log }), allow: [`system:serviceaccount:${namespace}:authorizer`], port: 0, host: '127.0.0.1', tls, log });
    const trusting = new BundleClient({ ...clientOptions(new PolicyEngine()), service: httpsServer.url, caFile: cp.caCertPath });
    const systemRoots = new BundleClient({ ...clientOptions(new PolicyEngine()), service: httpsServer.url });
    trusting.start();
    systemRoots.start();
    try {
      await waitFor(() => trusting.ready, { description: 'a load over https' });
      await waitFor(() => systemRoots.lastError, { description: 'a TLS failure without the CA' });
      expect(systemRoots.lastError).toMatch(/cannot reach the bundle service at https:\/\/127\.0\.0\.1:\d+: .*(self-signed|unable to verify|issuer)/i);
      expect(systemRoots.ready).toBe(false);
    } finally {
      await Promise.all([trusting.stop(), systemRoots.stop()]);
      await httpsServer.close();
    }
  });

  it('stops promptly while a long poll is held, and deletes the Lease', async () => {
    await waitFor(() => store.waiting(bundleName) === 1, { description: 'a held long poll' });
    await clients.stop();
    await waitFor(() => store.waiting(bundleName) === 0, { description: 'the held poll to be released' });
    await reporter.stop();
    const gone = await getLease().then(() => false, (err: unknown) => isNotFound(err));
    expect(gone).toBe(true);
  });
});
