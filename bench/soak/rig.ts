// What the soak runs against, as a cluster runs it: its own etcd + kube-apiserver with the CRDs,
// the shipped RBAC and ApprovalRequest admission policy (test/harness/install.ts), a TLS bundle
// service, and the operator and the authorizer as their entry points (node cmd/<name>/main.ts)
// with only the environment the manifests give them — separate processes, so /proc shows each
// one's own memory and CPU. Upstream: the real server-everything; callers: tokens from the test
// JWT issuer. Approvers act with the kubectl plugin's own code.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { existsSync, readFileSync } from 'node:fs';
import type { McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { main as kubectlMcp } from '../../kubectl-mcp/commands.ts';
import { KubeClient, isNotFound } from '../../pkg/kube/client.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { defaultPublicKeyConfigMap } from '../../operator/src/operator.ts';
import { freePort, serviceAccountToken, tokenKubeConfig } from '../../test/harness/accounts.ts';
import { waitForApprovalAdmission } from '../../test/harness/admission.ts';
import { ControlPlane, binary, mintUserKubeconfig } from '../../test/harness/controlplane.ts';
import { admissionNames, applyAll, shippedAdmission, shippedRbac, type InstallOptions, type Manifest } from '../../test/harness/install.ts';
import { startJwtIssuer, type TestIssuer } from '../../test/harness/jwt-issuer.ts';
import { mintCa, mintServingCertificate } from '../../test/support/tls.ts';
import { audience, startEverything, type EverythingServer } from '../../test/integration/proxy-support.ts';
import { shippedEnv, shippedEnvLiterals, shippedNodeArgs } from '../../test/support/shipped-container.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const fieldManager = 'bench-soak';
export const install: InstallOptions = { namespace: 'soak-system', governed: ['soak-agents'], suffix: 'soak' };
export const governed = install.governed[0]!;
export const policyName = 'agents';

export interface EntryPoint {
  name: string;
  pid: number;
  /** The last lines it wrote (pino JSON). */
  tail(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs the script the container runs (the bundle of cmd/<name>/main.ts), with only the environment given. */
function runEntryPoint(name: 'operator' | 'authorizer', env: Record<string, string>, cwd?: string): EntryPoint {
  // BENCH_SOAK_AUTHORIZER_SCRIPT=cmd/authorizer/main.ts runs the sources instead, for comparison.
  // BENCH_SOAK_AUTHORIZER_NODE_FLAGS / BENCH_SOAK_OPERATOR_NODE_FLAGS (space-separated) replace
  // the container's node flags, for A/B runs.
  const override = name === 'authorizer' ? process.env.BENCH_SOAK_AUTHORIZER_SCRIPT : undefined;
  const flags = name === 'authorizer' ? process.env.BENCH_SOAK_AUTHORIZER_NODE_FLAGS : process.env.BENCH_SOAK_OPERATOR_NODE_FLAGS;
  const flagsOverride = flags?.split(/\s+/).filter(Boolean);
  const args = shippedNodeArgs(name, flagsOverride);
  if (override) args[args.length - 1] = join(repoRoot, override);
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  // Only a bounded tail is kept: the soak must not grow its own memory with the child's log.
  let out = '';
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name, pid: child.pid!, tail: () => out, exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * BENCH_SOAK_OPERATOR_ENV: a JSON object of environment variables set over the Deployment's, for
 * A/B runs of the operator (e.g. an allocator: {"LD_PRELOAD": "...", "MALLOC_CONF": "..."}).
 */
function operatorEnvOverride(): Record<string, string> {
  const raw = process.env.BENCH_SOAK_OPERATOR_ENV;
  if (raw === undefined || raw === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new Error(`BENCH_SOAK_OPERATOR_ENV is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new Error('BENCH_SOAK_OPERATOR_ENV must be a JSON object of strings, e.g. {"MALLOC_CONF": "narenas:2"}');
  }
  return v as Record<string, string>;
}

/**
 * The dynamic loader ignores an LD_PRELOAD it cannot find (a warning on stderr), so a host
 * without the image's allocator would measure glibc's malloc under jemalloc's name: refuse it.
 */
function requirePreload(env: Record<string, string>, who: string): Record<string, string> {
  if (env.LD_PRELOAD && !existsSync(env.LD_PRELOAD)) throw new Error(`the ${who} preloads ${env.LD_PRELOAD}, which this host lacks: run the soak with make bench-soak (it installs libjemalloc2)`);
  return env;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const ready = (port: number) => async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined);

/** The policy the soak enforces: echo allowed, get-env denied, get-sum held for sre (expiring after `holdTimeout`). */
export function soakPolicy(everythingUrl: string, issuer: TestIssuer, profile: string, variant = 0, holdTimeout = '1m'): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: governed, name: policyName },
    spec: {
      servers: [{ name: 'everything', url: everythingUrl }],
      profiles: [{ name: profile, server: 'everything' }],
      policies: [
        { name: 'no-env', priority: 10, when: { tools: ['get-env'] }, action: 'deny' },
        { name: 'images-need-sre', priority: 20, when: { tools: ['get-sum'] }, action: 'require_approval', approvers: ['sre'], timeout: holdTimeout },
        // `variant` changes the policy (and so the bundle revision) without changing a decision.
        { name: `allowed-${variant}`, priority: 30 + variant, when: { tools: ['echo'] }, action: 'allow' },
      ],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

export interface Rig {
  cp: ControlPlane;
  admin: KubeClient;
  issuer: TestIssuer;
  everything: EverythingServer;
  operator: EntryPoint;
  /** The operator's probe port (/metrics). */
  operatorProbe: number;
  /** https://127.0.0.1:<port> of the operator's bundle service, and the CA that signed its certificate. */
  bundleService: string;
  caPem: string;
  authorizerUser: string;
  /** A fresh token of the authorizer's service account (TokenRequest), as kubelet projects one per pod. */
  authorizerToken(): Promise<string>;
  profileName: string;
  /** `kubectl apply --server-side` of an object (the real kubectl). */
  kubectlApply(obj: unknown): Promise<void>;
  /** `kubectl mcp approve <name>` as an approver in group sre (the plugin's own code, in-process). */
  approve(name: string): Promise<number>;
  /** The authorizer entry point; its working directory (where heap snapshots land) is `dir`. */
  startAuthorizer(ports: { extAuthz: number; proxy: number; probe: number }): Promise<EntryPoint>;
  dir: string;
  close(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  const cp = await ControlPlane.start();
  const closers: Array<() => Promise<unknown>> = [() => cp.stop()];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const admin = new KubeClient(kc);
    const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as Manifest;
    await applyAll(admin, [ns(install.namespace), ns(governed)], fieldManager);
    await applyAll(admin, shippedRbac(install), fieldManager);
    await applyAll(admin, shippedAdmission(install), fieldManager);
    await waitForApprovalAdmission(admin, governed);
    const approver = await mintUserKubeconfig(cp.env, 'ann', ['sre', 'system:masters']);
    const dir = join(cp.dir, 'soak');
    await mkdir(dir, { recursive: true });
    const ca = await mintCa();
    closers.push(() => ca.remove());
    const serving = await mintServingCertificate(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    const issuer = await startJwtIssuer({ audience });
    const everything = await startEverything();
    closers.push(() => issuer.close(), () => everything.close());

    const profile = parse(readFileSync(join(repoRoot, 'profiles', 'everything.yaml'), 'utf8')) as McpProfile;
    const profileName = profile.metadata!.name!;
    await admin.apply({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name: profileName }, profile, fieldManager);
    await admin.apply({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: governed, name: policyName }, soakPolicy(everything.url, issuer, profileName), fieldManager);

    const kubeconfigFile = async (account: 'toolgate-operator' | 'toolgate-authorizer') => {
      const token = await serviceAccountToken(admin, install.namespace, account);
      const path = join(dir, `${account}.kubeconfig`);
      await writeFile(path, tokenKubeConfig(cp.env, account, token).exportConfig(), { mode: 0o600 });
      const tokenPath = join(dir, `${account}.token`);
      await writeFile(tokenPath, token, { mode: 0o600 });
      return { path, tokenPath };
    };
    const bundlePort = await freePort();
    const operatorProbe = await freePort();
    const authorizerUser = `system:serviceaccount:${install.namespace}:toolgate-authorizer`;
    const operator = runEntryPoint('operator', {
      // The Deployment's own settings (or an A/B run's), then what differs outside a pod.
      ...requirePreload({ ...shippedEnvLiterals('operator'), ...operatorEnvOverride() }, 'operator Deployment'),
      KUBECONFIG: (await kubeconfigFile('toolgate-operator')).path, POD_NAME: 'toolgate-operator-0', POD_NAMESPACE: install.namespace,
      APPROVAL_NAMESPACES: governed, WATCH_NAMESPACE: governed, AUTHORIZER_NAMESPACE: install.namespace, POLICY_WASM_FILE: ensurePolicyWasm(),
      BUNDLE_PORT: String(bundlePort), PROBE_PORT: String(operatorProbe), BUNDLE_TLS_CERT_FILE: serving.certFile, BUNDLE_TLS_KEY_FILE: serving.keyFile,
      BUNDLE_ALLOWED_SERVICE_ACCOUNTS: authorizerUser, LOG_LEVEL: 'warn',
    });
    closers.unshift(() => operator.stop());
    await until(`the operator to be ready (output: ${operator.tail().slice(-2000)})`, ready(operatorProbe));

    const cm = await until(`ConfigMap ${defaultPublicKeyConfigMap}`, async () => {
      try {
        const c = await admin.get<{ data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'configmaps', namespace: install.namespace, name: defaultPublicKeyConfigMap });
        return c.data?.['public.pem'] ? c.data : undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
    const keyDir = join(dir, 'bundle-signing');
    await mkdir(keyDir, { recursive: true });
    await Promise.all([writeFile(join(keyDir, 'public.pem'), cm['public.pem']!), writeFile(join(keyDir, 'key-id'), cm['key-id']!), writeFile(join(keyDir, 'algorithm'), cm.algorithm!)]);
    const kubectlBin = await binary('kubectl');
    const names = admissionNames(install);

    return {
      cp, admin, issuer, everything, operator, operatorProbe, profileName, authorizerUser, dir,
      bundleService: `https://127.0.0.1:${bundlePort}`, caPem: ca.certPem,
      authorizerToken: () => serviceAccountToken(admin, install.namespace, 'toolgate-authorizer'),
      kubectlApply: (obj) => new Promise<void>((resolve, reject) => {
        const child = spawn(kubectlBin, [`--kubeconfig=${cp.kubeconfigPath}`, `--cache-dir=${join(cp.dir, '.kube-cache')}`, 'apply', '--server-side', `--field-manager=${fieldManager}`, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.once('error', reject);
        child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl apply exited ${code}: ${stderr}`))));
        child.stdin.end(JSON.stringify(obj));
      }),
      approve: (name) => kubectlMcp(['approve', name, '-n', governed, `--kubeconfig=${approver}`, '--wait=0'], nullSink(), nullSink()),
      async startAuthorizer(ports) {
        const { path, tokenPath } = await kubeconfigFile('toolgate-authorizer');
        const shipped = requirePreload(shippedEnvLiterals('authorizer'), 'StatefulSet');
        const authorizer = runEntryPoint('authorizer', {
          // The StatefulSet's own settings (workers, NODE_OPTIONS, log level, drain times), then
          // what differs outside a pod: addresses, files, the account.
          ...shipped,
          ...(process.env.BENCH_SOAK_AUTHORIZER_WORKERS ? { AUTHORIZER_WORKERS: process.env.BENCH_SOAK_AUTHORIZER_WORKERS } : {}),
          KUBECONFIG: path, POD_NAME: 'toolgate-authorizer-0', POD_NAMESPACE: install.namespace, POLICIES: `${governed}/${policyName}`,
          BUNDLE_SERVICE_URL: `https://127.0.0.1:${bundlePort}`, BUNDLE_TOKEN_FILE: tokenPath, BUNDLE_CA_FILE: ca.certFile, BUNDLE_PUBLIC_KEY_FILE: join(keyDir, 'public.pem'),
          EXT_AUTHZ_PORT: String(ports.extAuthz), PROXY_PORT: String(ports.proxy), PROBE_PORT: String(ports.probe),
          APPROVALS: 'true', APPROVAL_ADMISSION_POLICY: names.policy, APPROVAL_ADMISSION_BINDING: names.binding,
          // The shipped StatefulSet writes an audit trail (config/authorizer/authorizer.yaml).
          AUDIT_FILE: join(dir, 'audit.jsonl'),
          // The shipped StatefulSet's NODE_OPTIONS unless told otherwise, e.g.
          // --heapsnapshot-signal=SIGUSR2 to find where memory goes (bench/README.md).
          NODE_OPTIONS: process.env.BENCH_SOAK_AUTHORIZER_NODE_OPTIONS ?? shippedEnv('authorizer', 'NODE_OPTIONS') ?? '',
        }, dir);
        closers.unshift(() => authorizer.stop());
        await until(`the authorizer to be ready (output: ${authorizer.tail().slice(-2000)})`, ready(ports.probe));
        return authorizer;
      },
      async close() {
        for (const c of closers) await c().catch((err: unknown) => console.error(err));
      },
    };
  } catch (err) {
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }
}

const nullSink = () => new Writable({ write(_c, _e, cb) { cb(); } });

