// Compatibility proof: the operator compiles the decision-table policies (applied as real CRs)
// into signed bundles; a real `opa run --server` per policy pulls its bundle from the
// operator's bundle service (service-account token, TokenReview), verifies the signature with
// the public key the operator published, and evaluates it with its wasm engine. For every case
// of the decision table OPA's decision must equal toolgate's evaluator on the same bundle.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { PolicyEngine, type Decision, type PolicyInput } from '../../pkg/policy/engine/index.ts';
import { cases, variantPolicy, variants, type Variant } from '../../pkg/policy/engine/testdata/cases.ts';
import { fixtureProfiles } from '../../pkg/policy/engine/testdata/load.ts';
import { openBundle } from '../../operator/src/bundle/index.ts';
import { opaBinary } from '../support/bundle.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startOperator, defaultPublicKeyConfigMap, type RunningOperator } from '../../operator/src/operator.ts';
import { freePort, serviceAccountToken } from '../harness/accounts.ts';
import { waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';

const env = inject('controlPlane');
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const suffix = randomBytes(3).toString('hex');
const ns = `opa-compat-${suffix}`;
const kc = new KubeConfig();
kc.loadFromFile(env.adminKubeconfig);
const admin = new KubeClient(kc);
const policyName = (v: Variant) => `table-${v.toLowerCase()}`;
// Profiles are cluster-scoped: unique names keep this file apart from the others.
const profileName = (name: string) => `compat-${suffix}-${name}`;

interface Opa { child: ChildProcess; url: string; logs: string[] }
const opas = new Map<Variant, Opa>();
const engines = new Map<Variant, PolicyEngine>();
let operator: RunningOperator;
let dir: string;

async function startOpa(variant: Variant, tokenPath: string, publicKey: { pem: string; keyId: string; algorithm: string }): Promise<Opa> {
  const config = {
    services: { toolgate: { url: operator.bundleServer.url, credentials: { bearer: { token_path: tokenPath } } } },
    bundles: { policy: { service: 'toolgate', resource: `/bundles/${ns}/${policyName(variant)}`, polling: { min_delay_seconds: 1, max_delay_seconds: 2, long_polling_timeout_seconds: 10 }, signing: { keyid: publicKey.keyId } } },
    keys: { [publicKey.keyId]: { key: publicKey.pem, algorithm: publicKey.algorithm } },
  };
  const configPath = join(dir, `opa-${variant}.json`);
  await writeFile(configPath, JSON.stringify(config));
  const port = await freePort();
  const child = spawn(await opaBinary(), ['run', '--server', '--addr', `127.0.0.1:${port}`, '--config-file', configPath, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  for (const s of [child.stdout, child.stderr]) s?.setEncoding('utf8').on('data', (d: string) => logs.push(...d.split('\n').filter(Boolean)));
  return { child, url: `http://127.0.0.1:${port}`, logs };
}

async function opaDecision(opa: Opa, input: unknown): Promise<{ result: Decision; wasm: boolean }> {
  const res = await fetch(`${opa.url}/v1/data/toolgate/decision?metrics=true`, { method: 'POST', body: JSON.stringify({ input }) });
  const body = (await res.json()) as { result?: Decision; metrics?: Record<string, number> };
  if (!body.result) throw new Error(`OPA returned no decision (HTTP ${res.status}): ${JSON.stringify(body)}`);
  // OPA reports wasm VM timers only when its wasm engine answered the query.
  return { result: body.result, wasm: Object.keys(body.metrics ?? {}).includes('timer_wasm_vm_eval_ns') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolgate-opa-compat-'));
  await admin.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const token = await serviceAccountToken(admin, ns, 'opa');
  const tokenPath = join(dir, 'token');
  await writeFile(tokenPath, token, { mode: 0o600 });

  operator = await startOperator({
    kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'compat', probePort: 0, probeHost: '127.0.0.1', log,
    bundles: operatorBundles({ allow: [`system:serviceaccount:${ns}:opa`] }),
  });

  for (const p of fixtureProfiles().values()) {
    await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles' }, { ...p, metadata: { name: profileName(p.metadata.name!) } } satisfies McpProfile);
  }
  for (const v of variants) {
    const p = variantPolicy(v);
    const body: McpSecurityPolicy = {
      ...p,
      metadata: { name: policyName(v), namespace: ns },
      spec: { ...p.spec, profiles: p.spec.profiles?.map((r) => ({ ...r, name: profileName(r.name) })) },
    };
    await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns }, body);
  }

  const publicKey = await waitFor(async () => {
    const cm = await admin.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: ns, name: defaultPublicKeyConfigMap });
    return cm.data?.['public.pem'] ? { pem: cm.data['public.pem'], keyId: cm.data['key-id'] ?? 'toolgate', algorithm: cm.data.algorithm ?? 'RS256' } : undefined;
  }, { description: 'the operator to publish the bundle public key', timeoutMs: 30_000 });

  for (const v of variants) {
    const revision = await waitFor(async () => {
      const p = await admin.get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: policyName(v) });
      const compiled = p.status?.conditions?.find((c) => c.type === 'Compiled');
      return compiled?.status === 'True' ? p.status?.revision : undefined;
    }, { description: `${policyName(v)} to be Compiled`, timeoutMs: 30_000 });
    // toolgate's evaluator loads exactly what OPA will pull: the served archive, verified.
    const stored = operator.store.get(`${ns}/${policyName(v)}`);
    expect(stored?.revision).toBe(revision);
    const opened = await openBundle(stored!.archive, { verify: { keys: { [publicKey.keyId]: { key: publicKey.pem, algorithm: publicKey.algorithm } }, keyId: publicKey.keyId } });
    const engine = new PolicyEngine();
    await engine.load(opened.wasm!, opened.data, opened.manifest.revision);
    engines.set(v, engine);
    opas.set(v, await startOpa(v, tokenPath, publicKey));
  }
  for (const [v, opa] of opas) {
    await waitFor(async () => (await fetch(`${opa.url}/health?bundles`)).status === 200, {
      description: `OPA (${v}) to activate its bundle; log tail:\n${opa.logs.slice(-10).join('\n')}`, timeoutMs: 30_000,
    });
  }
}, 180_000);

afterAll(async () => {
  for (const { child } of opas.values()) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await operator?.stop();
  for (const p of fixtureProfiles().values()) {
    await admin.delete({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name: profileName(p.metadata.name!) }).catch(() => undefined);
  }
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('a real OPA server and toolgate decide identically on the operator bundles', () => {
  it('OPA serves the revision the policy status reports', async () => {
    for (const [v, opa] of opas) {
      const res = await fetch(`${opa.url}/v1/data/system/bundles/policy/manifest/revision`);
      expect(((await res.json()) as { result?: string }).result, v).toBe(operator.store.get(`${ns}/${policyName(v)}`)?.revision);
    }
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const v = c.variant ?? 'base';
    const ours = engines.get(v)!.evaluate(c.input as PolicyInput);
    const theirs = await opaDecision(opas.get(v)!, c.input);
    expect(theirs.wasm, 'OPA evaluated with its wasm engine').toBe(true);
    expect(ours).toEqual(theirs.result);
    expect({ action: ours.action, rule: ours.rule }).toEqual({ action: c.action, rule: c.rule });
    expect(ours.policy).toEqual({ namespace: ns, name: policyName(v) });
  });
});
