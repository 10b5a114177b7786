// Compatibility proof for the operator's bundles: a real `opa run --server` pulls signed
// bundles from toolgate's bundle service (service-account token checked by a real TokenReview
// against the test kube-apiserver, signing key from a real Secret), verifies them, evaluates
// them, follows new revisions by long polling, and refuses a bundle tampered after signing.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildBundle, readBundleFiles, type BuildBundleInput } from '../../pkg/bundle/bundle.ts';
import { createBundleMetrics } from '../../operator/src/bundle/metrics.ts';
import { startBundleServer, type BundleServer } from '../../operator/src/bundle/server.ts';
import { loadOrCreateSigningKey, signerFor, type SigningKeyMaterial } from '../../operator/src/bundle/signing-key.ts';
import { BundleStore } from '../../operator/src/bundle/store.ts';
import { gzipDeterministic, writeTar } from '../../pkg/bundle/tar.ts';
import { compileWasm, opaBinary, runOpa, tempDir } from '../support/bundle.ts';
import { tokenReviewAuthenticator } from '../../operator/src/bundle/token-review.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { freePort, serviceAccountToken as saToken } from '../harness/accounts.ts';

const env = inject('controlPlane');
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const namespace = `bundle-opa-${randomBytes(3).toString('hex')}`;
const bundleName = `${namespace}/compat`;
const entrypoint = 'toolgate/compat/allow';
const rego = `package toolgate.compat

default allow := false

allow if input.tool in data.toolgate.compat.allowed_tools
`;

const kc = new KubeConfig();
kc.loadFromFile(env.adminKubeconfig);
const admin = new KubeClient(kc);
const metrics = createBundleMetrics(new Registry());
const store = new BundleStore({ metrics, log });

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: BundleServer;
let key: SigningKeyMaterial;
let wasm: Buffer;
let token: string;
let intruderToken: string;
let opa: { child: ChildProcess; url: string; logs: string[] } | undefined;

const serviceAccountToken = (name: string) => saToken(admin, namespace, name);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = opa?.logs.slice(-15).join('\n') ?? '';
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}\nopa log tail:\n${tail}`);
}

/** The bundle for OPA, as the operator ships it: data, policy.wasm and its entrypoint, no Rego, signed. */
function inputs(tools: string[]): BuildBundleInput {
  return {
    data: { toolgate: { compat: { allowed_tools: tools } } },
    wasm,
    entrypoints: [entrypoint],
    roots: ['toolgate'],
    metadata: { policy: bundleName },
    signer: signerFor(key),
  };
}

async function decide(tool: string): Promise<unknown> {
  const res = await fetch(`${opa?.url}/v1/data/${entrypoint}?metrics=true`, { method: 'POST', body: JSON.stringify({ input: { tool } }) });
  const body = (await res.json()) as { result?: unknown; metrics?: Record<string, number> };
  // OPA reports wasm VM timers only when its wasm engine answered the query.
  expect(Object.keys(body.metrics ?? {})).toContain('timer_wasm_vm_eval_ns');
  return body.result;
}

async function activeRevision(): Promise<string | undefined> {
  const res = await fetch(`${opa?.url}/v1/data/system/bundles/policy/manifest/revision`);
  return ((await res.json()) as { result?: string }).result;
}

beforeAll(async () => {
  dir = await tempDir('bundle-opa');
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  [token, intruderToken] = await Promise.all([serviceAccountToken('opa-puller'), serviceAccountToken('intruder')]);

  // Two replicas starting at once settle on one key.
  const [a, b] = await Promise.all([loadOrCreateSigningKey({ client: admin, namespace, log }), loadOrCreateSigningKey({ client: admin, namespace, log })]);
  expect(a.publicKeyPem).toBe(b.publicKeyPem);
  expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
  key = a;

  wasm = await compileWasm(rego, [entrypoint]);
  const version = await runOpa(['version']);
  expect(version.stdout, 'opa must be built with its wasm engine (the opa_wasm tag): run `make tools`').toContain('WebAssembly: available');

  server = await startBundleServer({
    store,
    authenticate: tokenReviewAuthenticator({ client: admin, metrics, log }),
    allow: [`system:serviceaccount:${namespace}:opa-puller`],
    port: 0,
    host: '127.0.0.1',
    metrics,
    log,
  });
}, 120_000);

afterAll(async () => {
  if (opa) {
    const { child } = opa;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await server?.close();
  await dir?.remove();
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: namespace }).catch(() => undefined);
});

describe('bundle service with a real OPA', () => {
  it('refuses callers without a valid, allowed service-account token', async () => {
    store.put(bundleName, await buildBundle(inputs(['read_file'])));
    const url = `${server.url}/bundles/${bundleName}`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'unauthorized' });
    expect((await fetch(url, { headers: { authorization: 'Bearer forged.token.value' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${intruderToken}` } })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('signs with the Secret key in a form opa verifies (wasm bundle with entrypoints)', async () => {
    const full = await buildBundle(inputs(['read_file']));
    await writeFile(join(dir.path, 'full.tar.gz'), full.archive);
    await writeFile(join(dir.path, 'public.pem'), key.publicKeyPem);
    const res = await runOpa(['build', '-b', 'full.tar.gz', '--verification-key', 'public.pem', '--verification-key-id', key.keyId, '-o', 'verified.tar.gz'], dir.path);
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });

  it('is pulled, verified and evaluated by opa run --server, and follows new revisions by long polling', async () => {
    const v1 = await buildBundle(inputs(['read_file']));
    store.put(bundleName, v1);
    const tokenPath = join(dir.path, 'token');
    await writeFile(tokenPath, token, { mode: 0o600 });
    const config = {
      services: { toolgate: { url: server.url, credentials: { bearer: { token_path: tokenPath } } } },
      bundles: {
        policy: {
          service: 'toolgate',
          resource: `/bundles/${bundleName}`,
          polling: { min_delay_seconds: 1, max_delay_seconds: 2, long_polling_timeout_seconds: 10 },
          signing: { keyid: key.keyId },
        },
      },
      keys: { [key.keyId]: { key: key.publicKeyPem, algorithm: key.algorithm } },
    };
    const configPath = join(dir.path, 'opa.json');
    await writeFile(configPath, JSON.stringify(config));
    const port = await freePort();
    const child = spawn(await opaBinary(), ['run', '--server', '--addr', `127.0.0.1:${port}`, '--config-file', configPath, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    child.stdout?.setEncoding('utf8').on('data', (d: string) => logs.push(...d.split('\n').filter(Boolean)));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => logs.push(...d.split('\n').filter(Boolean)));
    opa = { child, url: `http://127.0.0.1:${port}`, logs };

    await waitFor('OPA to activate the bundle (GET /health?bundles)', async () => ((await fetch(`${opa?.url}/health?bundles`)).status === 200 ? true : undefined));
    expect(await activeRevision()).toBe(v1.revision);
    expect(await decide('read_file')).toBe(true);
    expect(await decide('send_email')).toBe(false);

    // OPA learned from the Content-Type that long polling is supported and now holds a request open.
    await waitFor('OPA to long-poll', () => Promise.resolve(store.waiting(bundleName) === 1 ? true : undefined));
    const v2 = await buildBundle(inputs(['read_file', 'send_email']));
    const started = performance.now();
    store.put(bundleName, v2);
    await waitFor('OPA to activate revision 2', async () => ((await activeRevision()) === v2.revision ? true : undefined), 10_000);
    const propagationMs = performance.now() - started;
    expect(await decide('send_email')).toBe(true);
    expect((await metrics.longPolls.get()).values.find((v) => v.labels.outcome === 'changed')?.value).toBeGreaterThanOrEqual(1);
    // Pushed on the held request, not picked up by the next periodic poll (min delay 1 s).
    expect(propagationMs).toBeLessThan(1_000);
  });

  it('keeps the last good revision when a bundle was tampered with after signing', async () => {
    const good = await activeRevision();
    const v3 = await buildBundle(inputs(['read_file', 'send_email', 'delete_repository']));
    const files = await readBundleFiles(v3.archive);
    files.set('data.json', Buffer.from(JSON.stringify({ toolgate: { compat: { allowed_tools: ['read_file', 'send_email', 'delete_repository', 'drop_database'] } } })));
    const tampered = gzipDeterministic(await writeTar([...files].map(([name, data]) => ({ name: `/${name}`, data }))));
    const before = opa?.logs.length ?? 0;
    store.put(bundleName, { revision: v3.revision, archive: tampered });

    const refusal = await waitFor('OPA to refuse the tampered bundle', () =>
      Promise.resolve(opa?.logs.slice(before).find((line) => line.includes('digest mismatch'))));
    expect(refusal).toMatch(/data\.json: digest mismatch/);
    expect(await activeRevision()).toBe(good);
    expect(await decide('drop_database')).toBe(false);
    expect(await decide('delete_repository')).toBe(false);

    // And recovers as soon as a correctly signed bundle is served again.
    const v4 = await buildBundle(inputs(['read_file']));
    store.put(bundleName, v4);
    await waitFor('OPA to activate revision 4', async () => ((await activeRevision()) === v4.revision ? true : undefined), 15_000);
    expect(await decide('send_email')).toBe(false);
  });
});
