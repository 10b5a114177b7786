// A rolling upgrade must not fail a decision: the authorizer's entry point (cmd/authorizer/
// main.ts, as the container runs it) on SIGTERM turns /readyz unready at once, keeps serving for
// SHUTDOWN_DELAY_SECONDS, then accepts no new connection while a call it holds for approval is
// still answered (released by an approver) within DRAIN_TIMEOUT_SECONDS; then it exits 0. The
// operator's entry point on SIGTERM releases its leader Lease so another replica leads at once.
import { connect } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { freePort } from '../harness/accounts.ts';
import { waitForApprovalAdmission } from '../harness/admission.ts';
import { admissionNames, applyAll, deleteAll, shippedAdmission, type Manifest } from '../harness/install.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { waitFor } from '../harness/kube.ts';
import { approver, approverRbac, requestFor, type Approver } from './approvals-e2e-support.ts';
import {
  accountKubeconfigFile, createInstall, everythingProfile, fieldManager, policyRef, profileRef, publishedKey, runEntryPoint, type EntryPoint, type TestInstall,
} from './install-support.ts';
import { audience, connectClient, startEverything, type EverythingServer } from './proxy-support.ts';

let install: TestInstall;
let gov: string;
let issuer: TestIssuer;
let everything: EverythingServer;
let admission: Manifest[];
let ann: Approver;
let operator: EntryPoint;
let operatorName: string;
const running: EntryPoint[] = [];

const readyz = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, text: await res.text() };
};
/** Whether a TCP connection to the port is accepted (true), or refused (false). */
const accepts = (port: number) => new Promise<boolean>((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

beforeAll(async () => {
  install = await createInstall('drain');
  gov = install.governed[0]!;
  admission = shippedAdmission(install);
  await applyAll(install.admin, admission, fieldManager);
  await waitForApprovalAdmission(install.admin, gov);
  await approverRbac(gov, ['sre']);
  ann = await approver('ann', ['sre']);
  issuer = await startJwtIssuer({ audience });
  everything = await startEverything();
  const profile = everythingProfile(install);
  await install.admin.apply(profileRef(profile.metadata!.name!), profile, fieldManager);
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: gov },
    spec: {
      servers: [{ name: 'everything', url: everything.url }],
      profiles: [{ name: profile.metadata!.name!, server: 'everything' }],
      policies: [{ name: 'echo-needs-sre', priority: 10, when: { tools: ['echo'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  await install.admin.apply(policyRef(gov), policy, fieldManager);

  const { path } = await accountKubeconfigFile(install, 'toolgate-operator');
  const bundlePort = await freePort();
  const probePort = await freePort();
  operatorName = `op-${install.suffix}`;
  operator = runEntryPoint('operator', {
    KUBECONFIG: path, POD_NAME: operatorName, POD_NAMESPACE: install.namespace, APPROVAL_NAMESPACES: gov, WATCH_NAMESPACE: gov, AUTHORIZER_NAMESPACE: install.namespace,
    POLICY_WASM_FILE: ensurePolicyWasm(), BUNDLE_PORT: String(bundlePort), PROBE_PORT: String(probePort),
    BUNDLE_TLS_CERT_FILE: install.serving.certFile, BUNDLE_TLS_KEY_FILE: install.serving.keyFile,
    BUNDLE_ALLOWED_SERVICE_ACCOUNTS: `system:serviceaccount:${install.namespace}:toolgate-authorizer`, LOG_LEVEL: 'info',
  });
  running.push(operator);
  await waitFor(async () => (await readyz(probePort).catch(() => ({ status: 0 }))).status === 200, { description: `the operator process to be ready (output: ${operator.output().slice(-2000)})`, timeoutMs: 60_000 });
  const key = await publishedKey(install);
  const keyDir = join(install.dir, 'bundle-signing');
  await mkdir(keyDir, { recursive: true });
  await Promise.all([writeFile(join(keyDir, 'public.pem'), key.publicKeyPem), writeFile(join(keyDir, 'key-id'), key.keyId), writeFile(join(keyDir, 'algorithm'), key.algorithm)]);
  process.env.DRAIN_BUNDLE_URL = `https://127.0.0.1:${bundlePort}`;
  process.env.DRAIN_KEY_DIR = keyDir;
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all([issuer?.close(), everything?.close()]);
  if (admission) await deleteAll(install.admin, admission);
  await install?.admin.delete(profileRef(everythingProfile(install).metadata!.name!)).catch(() => undefined);
  await install?.remove();
});

describe('graceful shutdown', () => {
  it('authorizer: SIGTERM → unready at once, a held call still answered once approved, new connections refused after the delay, exit 0', async () => {
    const { path, tokenPath } = await accountKubeconfigFile(install, 'toolgate-authorizer');
    const [proxyPort, probePort] = [await freePort(), await freePort()];
    const names = admissionNames(install);
    const authorizer = runEntryPoint('authorizer', {
      KUBECONFIG: path, POD_NAME: 'toolgate-authorizer-0', POD_NAMESPACE: install.namespace, POLICIES: `${gov}/agents`,
      BUNDLE_SERVICE_URL: process.env.DRAIN_BUNDLE_URL!, BUNDLE_TOKEN_FILE: tokenPath, BUNDLE_CA_FILE: install.ca.certFile,
      BUNDLE_PUBLIC_KEY_FILE: join(process.env.DRAIN_KEY_DIR!, 'public.pem'),
      EXT_AUTHZ_PORT: 'off', PROXY_PORT: String(proxyPort), PROBE_PORT: String(probePort), APPROVALS: 'true',
      APPROVAL_ADMISSION_POLICY: names.policy, APPROVAL_ADMISSION_BINDING: names.binding, APPROVAL_ADMISSION_CHECK_SECONDS: '1',
      SHUTDOWN_DELAY_SECONDS: '2', DRAIN_TIMEOUT_SECONDS: '60', LOG_LEVEL: 'info',
    });
    running.push(authorizer);
    await waitFor(async () => (await readyz(probePort).catch(() => ({ status: 0 }))).status === 200,
      { description: `the authorizer process to be ready (output: ${authorizer.output().slice(-2000)})`, timeoutMs: 60_000 });
    expect((await readyz(probePort)).text).toContain('[+]shutdown serving');

    const { client } = await connectClient(`http://127.0.0.1:${proxyPort}/mcp`, await issuer.mint({ sub: 'alice', azp: 'agent-1' }));
    const args = { message: `drain ${install.suffix}` };
    const held = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 });
    const pending = await requestFor(gov, 'echo', args);

    const terminated = Date.now();
    process.kill(authorizer.pid, 'SIGTERM');
    const unready = await waitFor(async () => {
      const r = await readyz(probePort);
      return r.status === 503 ? r : undefined;
    }, { description: 'readyz to turn 503 after SIGTERM', timeoutMs: 5_000, intervalMs: 50 });
    expect(unready.text).toContain('[-]shutdown shutting down: draining calls in flight');
    // Still accepting during the readiness delay (endpoints are being updated), refusing after it.
    await waitFor(async () => !(await accepts(proxyPort)), { description: 'the proxy to stop accepting connections', timeoutMs: 10_000, intervalMs: 100 });
    expect(Date.now() - terminated).toBeGreaterThanOrEqual(2_000);
    // A connect that times out on a loaded machine also reads as "not accepting": the log line
    // says the listener really closed (it is written just before; its pipe may lag the socket).
    await waitFor(() => /"msg":"no longer accepting connections; draining the calls in flight"/.test(authorizer.output()), { description: 'the authorizer to log that it stopped accepting', timeoutMs: 10_000, intervalMs: 100 });

    // The held call survives the listener closing; the approval released after it still answers it.
    const decided = await ann.decide('approve', pending, 'during the drain');
    expect(decided, decided.err).toMatchObject({ code: 0 });
    const result = await held;
    expect(result.content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
    await client.close().catch(() => undefined);

    expect(await authorizer.exited).toBe(0);
    expect(authorizer.output()).toMatch(/"msg":"every request in flight answered"/);
    expect(await accepts(proxyPort)).toBe(false);
  });

  it('operator: SIGTERM releases the leader Lease (no holder) before the process exits', async () => {
    const lease = () => install.admin.get<{ spec: { holderIdentity?: string | null } }>({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: install.namespace, name: 'toolgate-operator' });
    await waitFor(async () => (await lease()).spec.holderIdentity === operatorName, { description: 'the operator process to lead', timeoutMs: 30_000 });
    process.kill(operator.pid, 'SIGTERM');
    expect(await operator.exited).toBe(0);
    expect((await lease()).spec.holderIdentity ?? null).toBeNull();
  });
});
