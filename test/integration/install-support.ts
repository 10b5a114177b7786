// A toolgate install of its own on the shared API server, for the least-privilege, TLS and
// admission-guard tests: namespaces (the install's stand-in for toolgate-system, the governed
// one, and one nothing governs), the shipped RBAC (test/harness/install.ts), the operator and
// the authorizer as their service accounts, the bundle service over TLS with a minted CA.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import type { McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { startAuthorizer, type AuthorizerConfig, type RunningAuthorizer } from '../../authorizer/src/authorizer.ts';
import { KubeClient, isNotFound } from '../../pkg/kube/client.ts';
import { defaultPublicKeyConfigMap, startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { serviceAccountToken, tokenKubeConfig } from '../harness/accounts.ts';
import { applyAll, deleteAll, shippedRbac, type InstallOptions, type Manifest } from '../harness/install.ts';
import { controlPlane, uniqueName, waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';
import { mintCa, mintServingCertificate, type ServingCertificate, type TestCa } from '../support/tls.ts';
import { adminClient } from './approvals-e2e-support.ts';
import { shippedNodeArgs } from '../support/shipped-container.ts';

export const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
export const fieldManager = 'toolgate-install-test';
const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as Manifest;

export interface TestInstall extends InstallOptions {
  admin: KubeClient;
  /** A namespace no policy governs. */
  ungoverned: string;
  rbac: Manifest[];
  dir: string;
  ca: TestCa & { remove(): Promise<void> };
  serving: ServingCertificate;
  /** A KubeConfig and the raw token of one of the install's service accounts (TokenRequest). */
  account(name: 'toolgate-operator' | 'toolgate-authorizer'): Promise<{ kubeConfig: KubeConfig; token: string; tokenPath: string }>;
  remove(): Promise<void>;
}

/** Namespaces, the shipped RBAC for them, and a CA with a serving certificate for 127.0.0.1. */
export async function createInstall(prefix: string): Promise<TestInstall> {
  const admin = adminClient();
  const suffix = uniqueName(prefix).slice(prefix.length + 1);
  const o: InstallOptions = { namespace: `${prefix}-sys-${suffix}`, governed: [`${prefix}-gov-${suffix}`], suffix };
  const ungoverned = `${prefix}-other-${suffix}`;
  await applyAll(admin, [o.namespace, ...o.governed, ungoverned].map(ns), fieldManager);
  const rbac = shippedRbac(o);
  await applyAll(admin, rbac, fieldManager);
  const dir = await mkdtemp(join(tmpdir(), `toolgate-${prefix}-`));
  const ca = await mintCa();
  const serving = await mintServingCertificate(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  return {
    ...o, admin, ungoverned, rbac, dir, ca, serving,
    async account(name) {
      const token = await serviceAccountToken(admin, o.namespace, name);
      const tokenPath = join(dir, `${name}.token`);
      await writeFile(tokenPath, token, { mode: 0o600 });
      return { kubeConfig: tokenKubeConfig(controlPlane(), name, token), token, tokenPath };
    },
    async remove() {
      await deleteAll(admin, rbac.filter((d) => !d.metadata.namespace));
      await Promise.all([o.namespace, ...o.governed, ungoverned].map((n) => admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: n }).catch(() => undefined)));
      await Promise.all([rm(dir, { recursive: true, force: true }), ca.remove()]);
    },
  };
}

/** The operator as its service account, as the shipped Deployment runs it (TLS, approvals of the governed namespaces). */
export async function startInstalledOperator(install: TestInstall): Promise<RunningOperator> {
  const { kubeConfig } = await install.account('toolgate-operator');
  const operator = await startOperator({
    // Watching the governed namespace only: an operator watching every namespace would also
    // reconcile (and write the status of) other test files' policies, racing their operators.
    kubeConfig, leaseNamespace: install.namespace, watchNamespace: install.governed[0], authorizerNamespace: install.namespace, identity: `op-${install.suffix}`, probePort: 0, probeHost: '127.0.0.1', log,
    leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300,
    bundles: operatorBundles({ tls: { certFile: install.serving.certFile, keyFile: install.serving.keyFile }, allow: [`system:serviceaccount:${install.namespace}:toolgate-authorizer`] }),
    approvals: { namespaces: install.governed },
  });
  await waitFor(() => operator.isLeader(), { description: 'the operator to lead', timeoutMs: 30_000 });
  return operator;
}

/** The public key the operator published, as an authorizer mounts it. */
export async function publishedKey(install: TestInstall): Promise<AuthorizerConfig['verification']> {
  const cm = await waitFor(async () => {
    try {
      return await install.admin.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: install.namespace, name: defaultPublicKeyConfigMap });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }, { description: `ConfigMap ${defaultPublicKeyConfigMap}`, timeoutMs: 30_000 });
  return { publicKeyPem: cm.data!['public.pem']!, keyId: cm.data!['key-id']!, algorithm: cm.data!.algorithm! };
}

/** The authorizer as its service account and pod toolgate-authorizer-0 (the StatefulSet's first pod). */
export async function startInstalledAuthorizer(install: TestInstall, operator: RunningOperator, policies: string[], extra: Partial<AuthorizerConfig> = {}): Promise<RunningAuthorizer> {
  const { kubeConfig, tokenPath } = await install.account('toolgate-authorizer');
  return startAuthorizer({
    kubeConfig, namespace: install.namespace, podName: 'toolgate-authorizer-0', bundleService: operator.bundleServer.url, caFile: install.ca.certFile, tokenPath,
    policies, verification: await publishedKey(install),
    proxy: { port: 0, host: '127.0.0.1', approvalMode: 'hold' }, probePort: 0, probeHost: '127.0.0.1', reportRevisions: true,
    lease: { durationSeconds: 10, renewIntervalMs: 1000 },
    bundles: { waitSeconds: 20, backoff: { initialMs: 100, maxMs: 500 } },
    log,
    ...extra,
  });
}

/** The community profile for server-everything, cluster-scoped under a name of this install. */
export function everythingProfile(install: TestInstall): McpProfile {
  const profile = parse(readFileSync(join(import.meta.dirname, '../../profiles/everything.yaml'), 'utf8')) as McpProfile;
  return { ...profile, metadata: { ...profile.metadata, name: `everything-${install.suffix}` } };
}

export const policyRef = (namespace: string, name = 'agents') => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace, name });
export const profileRef = (name: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name });

export async function readyz(authorizer: RunningAuthorizer): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${authorizer.probe.port}/readyz`);
  return { status: res.status, text: await res.text() };
}

export type { McpSecurityPolicy };

export interface EntryPoint {
  /** For signals a test sends itself (graceful shutdown). */
  pid: number;
  /** Everything it wrote so far (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs the script the container runs (the bundle of cmd/<name>/main.ts), with only the environment given. */
export function runEntryPoint(name: 'operator' | 'authorizer', env: Record<string, string>): EntryPoint {
  const child = spawn(process.execPath, shippedNodeArgs(name), {
    env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A kubeconfig file acting as one of the install's service accounts. */
export async function accountKubeconfigFile(install: TestInstall, name: 'toolgate-operator' | 'toolgate-authorizer'): Promise<{ path: string; tokenPath: string }> {
  const { kubeConfig, tokenPath } = await install.account(name);
  const path = join(install.dir, `${name}.kubeconfig`);
  await writeFile(path, kubeConfig.exportConfig(), { mode: 0o600 });
  return { path, tokenPath };
}
