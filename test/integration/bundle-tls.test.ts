// The bundle service over TLS, as the shipped manifests run it: the operator's entry point
// (cmd/operator/main.ts) serves HTTPS with a certificate from files (BUNDLE_TLS_CERT_FILE/KEY_FILE,
// a serving certificate minted here from a private CA), and authorizer entry points
// (cmd/authorizer/main.ts) pull bundles with their service-account tokens, verifying the server
// against BUNDLE_CA_FILE. The right CA: ready. Another CA: refused before the token is sent, not
// ready, the reason on /readyz. Plain http:// without the explicit insecure setting: a
// configuration error naming the variables, for both entry points.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { freePort } from '../harness/accounts.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { waitFor } from '../harness/kube.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { mintCa, type TestCa } from '../support/tls.ts';
import {
  accountKubeconfigFile, createInstall, everythingProfile, fieldManager, policyRef, profileRef, publishedKey, runEntryPoint, type EntryPoint, type TestInstall,
} from './install-support.ts';
import { audience } from './proxy-support.ts';

let install: TestInstall;
let issuer: TestIssuer;
let otherCa: TestCa & { remove(): Promise<void> };
let operator: EntryPoint;
let bundlePort: number;
let keyDir: string;
const running: EntryPoint[] = [];

const readyz = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, text: await res.text() };
};

/** The authorizer entry point as pod `pod` of the StatefulSet, trusting `caFile`. */
async function startAuthorizerProcess(pod: string, env: Record<string, string>): Promise<{ process: EntryPoint; probePort: number }> {
  const { path, tokenPath } = await accountKubeconfigFile(install, 'toolgate-authorizer');
  const probePort = await freePort();
  const process = runEntryPoint('authorizer', {
    KUBECONFIG: path, POD_NAME: pod, POD_NAMESPACE: install.namespace, POLICIES: `${install.governed[0]}/agents`,
    BUNDLE_SERVICE_URL: `https://127.0.0.1:${bundlePort}`, BUNDLE_TOKEN_FILE: tokenPath, BUNDLE_PUBLIC_KEY_FILE: join(keyDir, 'public.pem'),
    EXT_AUTHZ_PORT: 'off', PROXY_PORT: String(await freePort()), PROBE_PORT: String(probePort), APPROVALS: 'false', AUDIT_FSYNC: 'false', LOG_LEVEL: 'info',
    ...env,
  });
  running.push(process);
  return { process, probePort };
}

beforeAll(async () => {
  install = await createInstall('tls');
  otherCa = await mintCa('not-the-bundle-service-ca');
  issuer = await startJwtIssuer({ audience });
  const gov = install.governed[0]!;
  await install.admin.apply(profileRef(everythingProfile(install).metadata!.name!), everythingProfile(install), fieldManager);
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: gov },
    spec: {
      servers: [{ name: 'everything', url: 'http://127.0.0.1:1/mcp' }],
      profiles: [{ name: everythingProfile(install).metadata!.name!, server: 'everything' }],
      policies: [{ name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  await install.admin.apply(policyRef(gov), policy, fieldManager);

  const { path } = await accountKubeconfigFile(install, 'toolgate-operator');
  bundlePort = await freePort();
  const probePort = await freePort();
  operator = runEntryPoint('operator', {
    // WATCH_NAMESPACE: watching every namespace, this operator would also write the status of
    // other test files' policies, racing their operators (as two installations in one cluster would).
    KUBECONFIG: path, POD_NAME: `op-${install.suffix}`, POD_NAMESPACE: install.namespace, APPROVAL_NAMESPACES: gov, WATCH_NAMESPACE: gov, AUTHORIZER_NAMESPACE: install.namespace, POLICY_WASM_FILE: ensurePolicyWasm(),
    BUNDLE_PORT: String(bundlePort), PROBE_PORT: String(probePort),
    BUNDLE_TLS_CERT_FILE: install.serving.certFile, BUNDLE_TLS_KEY_FILE: install.serving.keyFile,
    BUNDLE_ALLOWED_SERVICE_ACCOUNTS: `system:serviceaccount:${install.namespace}:toolgate-authorizer`, LOG_LEVEL: 'info',
  });
  running.push(operator);
  await waitFor(async () => (await readyz(probePort).catch(() => ({ status: 0 }))).status === 200, { description: `the operator process to be ready (output: ${operator.output().slice(-2000)})`, timeoutMs: 60_000 });
  // The authorizers mount the ConfigMap the operator publishes; here its keys become files.
  const key = await publishedKey(install);
  keyDir = join(install.dir, 'bundle-signing');
  await mkdir(keyDir, { recursive: true });
  await Promise.all([writeFile(join(keyDir, 'public.pem'), key.publicKeyPem), writeFile(join(keyDir, 'key-id'), key.keyId), writeFile(join(keyDir, 'algorithm'), key.algorithm)]);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all([issuer?.close(), otherCa?.remove()]);
  await install.admin.delete(profileRef(everythingProfile(install).metadata!.name!)).catch(() => undefined);
  await install?.remove();
});

describe('bundle service TLS', () => {
  it('the operator serves TLS with the mounted certificate', () => {
    expect(operator.output()).toMatch(/"msg":"bundle service serves TLS"/);
    expect(operator.output()).toMatch(/"validTo":"\d{4}-/);
  });

  it('an authorizer that trusts the CA of the certificate pulls the bundle and becomes ready', async () => {
    const { process, probePort } = await startAuthorizerProcess('toolgate-authorizer-0', { BUNDLE_CA_FILE: install.ca.certFile });
    await waitFor(async () => (await readyz(probePort).catch(() => ({ status: 0 }))).status === 200,
      { description: `the authorizer to be ready (output: ${process.output().slice(-2000)})`, timeoutMs: 60_000 });
    expect(process.output()).toMatch(/"msg":"bundle loaded"/);
  });

  it('an authorizer that trusts another CA refuses the server before sending its token, and stays not ready saying why', async () => {
    const { process, probePort } = await startAuthorizerProcess('toolgate-authorizer-1', { BUNDLE_CA_FILE: otherCa.certFile });
    const probe = await waitFor(async () => {
      const r = await readyz(probePort).catch(() => undefined);
      return r && r.text.includes('refused the TLS certificate') ? r : undefined;
    }, { description: `the authorizer to report the refused certificate (output: ${process.output().slice(-2000)})`, timeoutMs: 30_000 });
    expect(probe.status).toBe(503);
    expect(probe.text).toMatch(new RegExp(`refused the TLS certificate of 127\\.0\\.0\\.1:${bundlePort} \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE.*it does not verify against the CA bundle in BUNDLE_CA_FILE; nothing was sent`));
    expect(process.output()).toMatch(/refused the TLS certificate/);
  });
});

describe('plain HTTP only when asked for by name', () => {
  it('the authorizer refuses an http:// bundle service URL, naming the variable and the setting', async () => {
    const { process } = await startAuthorizerProcess('toolgate-authorizer-0', { BUNDLE_SERVICE_URL: `http://127.0.0.1:${bundlePort}` });
    expect(await process.exited).toBe(1);
    expect(process.output()).toMatch(/"msg":"authorizer configuration is invalid"/);
    expect(process.output()).toMatch(/BUNDLE_SERVICE_URL is \\"http:\/\/127\.0\.0\.1:\d+\\", plain HTTP: .*set BUNDLE_ALLOW_INSECURE_HTTP=true/);
  });

  it('the operator refuses to serve without a certificate, naming the variables and the setting', async () => {
    const p = runEntryPoint('operator', { POD_NAMESPACE: install.namespace, BUNDLE_PORT: '0', PROBE_PORT: '0' });
    running.push(p);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/"msg":"operator configuration is invalid"/);
    expect(p.output()).toMatch(/BUNDLE_TLS_CERT_FILE and BUNDLE_TLS_KEY_FILE are not set: .*set BUNDLE_ALLOW_INSECURE_HTTP=true/);
  });

  it('the operator refuses a key that does not belong to the certificate', async () => {
    const p = runEntryPoint('operator', {
      POD_NAMESPACE: install.namespace, BUNDLE_PORT: '0', PROBE_PORT: '0', BUNDLE_TLS_CERT_FILE: install.serving.certFile, BUNDLE_TLS_KEY_FILE: otherCa.keyFile,
    });
    running.push(p);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/BUNDLE_TLS_CERT_FILE\/BUNDLE_TLS_KEY_FILE: the bundle service's TLS certificate and key .* do not load/);
  });
});
