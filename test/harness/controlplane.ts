// A real etcd + kube-apiserver for tests and local runs: the envtest pattern in TypeScript.
// Everything lives in one temp dir (PKI, data, logs, kubeconfigs) so teardown is one rm.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments, stringify } from 'yaml';

/** What a vitest worker needs to reach the control plane started in another process. */
export interface ControlPlaneEnv {
  server: string;
  caCertPath: string;
  caKeyPath: string;
  adminKubeconfig: string;
  dir: string;
}

export interface ControlPlaneOptions {
  /** Directory of CRD manifests to install; false installs none. Default: the repo's crds/. */
  crds?: string | false;
  /** Budget for each wait (kube-apiserver readiness can take 10-20 s on a loaded 2-core box). */
  startTimeoutMs?: number;
  /** Further kube-apiserver flags (e.g. --authentication-config for OIDC users). */
  apiServerArgs?: string[];
}

const execFileP = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fieldManager = 'toolgate-test-harness';
const certDays = '30';

export function binDir(): string {
  return process.env.TOOLGATE_BIN_DIR ?? join(repoRoot, 'build', 'bin');
}

/** Absolute path of a third-party binary built by `make tools`, or a clear error. */
export async function binary(name: string): Promise<string> {
  const path = join(binDir(), name);
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(`${name} not found at ${path} (TOOLGATE_BIN_DIR=${process.env.TOOLGATE_BIN_DIR ?? 'unset'}); run \`make tools\` to build it`);
  }
  return path;
}

// ---- PKI (openssl). EC P-256 keys: generating RSA keys would dominate start-up time. ----

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed in ${cwd}: ${stderr.trim()}`, { cause: err });
  }
}

// Subjects go through a config file rather than -subj, so a group may hold '/' or ',' and a
// user may sit in several groups (repeated O attributes, as Kubernetes reads them).
const subjectValue = /^[A-Za-z0-9 ._@:/+=,-]+$/;
function subjectConfig(cn: string, orgs: string[], reqExtra: string[] = []): string {
  for (const v of [cn, ...orgs]) {
    if (!subjectValue.test(v) || v.trim() !== v) throw new Error(`unsupported character in certificate subject value ${JSON.stringify(v)}`);
  }
  return ['[req]', 'prompt = no', 'distinguished_name = dn', ...reqExtra, '[dn]', ...orgs.map((o, i) => `${i}.O = ${o}`), `CN = ${cn}`, ''].join('\n');
}

async function issueCert(dir: string, base: string, ca: { cert: string; key: string }, cn: string, orgs: string[], ext: string[]): Promise<void> {
  await writeFile(join(dir, `${base}.req.cnf`), subjectConfig(cn, orgs));
  await writeFile(join(dir, `${base}.ext.cnf`), ['[ext]', ...ext, ''].join('\n'));
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.csr`, '-config', `${base}.req.cnf`], dir);
  // A random serial instead of -CAcreateserial: workers mint concurrently and would race on the serial file.
  await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', certDays, '-sha256', '-extfile', `${base}.ext.cnf`, '-extensions', 'ext', '-out', `${base}.crt`], dir);
}

const clientExt = ['basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = clientAuth'];

async function createPki(dir: string): Promise<void> {
  await writeFile(join(dir, 'ca.cnf'), subjectConfig('toolgate-test-ca', [], ['x509_extensions = v3_ca']) + ['[v3_ca]',
    'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign,digitalSignature', 'subjectKeyIdentifier = hash', ''].join('\n'));
  await openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', certDays,
    '-keyout', 'ca.key', '-out', 'ca.crt', '-config', 'ca.cnf'], dir);
  const ca = { cert: 'ca.crt', key: 'ca.key' };
  await Promise.all([
    issueCert(dir, 'apiserver', ca, 'kube-apiserver', [], [
      'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment', 'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    ]),
    issueCert(dir, 'admin', ca, 'toolgate-admin', ['system:masters'], clientExt),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key'], dir);
      await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
    })(),
  ]);
}

async function writeKubeconfig(path: string, server: string, caCert: string, certPath: string, keyPath: string, user: string): Promise<void> {
  const b64 = async (p: string) => (await readFile(p)).toString('base64');
  // Credentials are embedded so the file still works when copied elsewhere.
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'toolgate-test', cluster: { server, 'certificate-authority-data': await b64(caCert) } }],
    users: [{ name: user, user: { 'client-certificate-data': await b64(certPath), 'client-key-data': await b64(keyPath) } }],
    contexts: [{ name: `${user}@toolgate-test`, context: { cluster: 'toolgate-test', user, namespace: 'default' } }],
    'current-context': `${user}@toolgate-test`,
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}

/** Mints a kubeconfig for user `name` in `groups` (client certificate signed by the test CA); works in any process. */
export async function mintUserKubeconfig(env: ControlPlaneEnv, name: string, groups: string[]): Promise<string> {
  await mkdir(join(env.dir, 'users'), { recursive: true });
  const dir = await mkdtemp(join(env.dir, 'users', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-`));
  await issueCert(dir, 'client', { cert: env.caCertPath, key: env.caKeyPath }, name, groups, clientExt);
  const path = join(dir, 'kubeconfig');
  await writeKubeconfig(path, env.server, env.caCertPath, join(dir, 'client.crt'), join(dir, 'client.key'), name);
  return path;
}

// ---- Processes ----

interface Proc { name: string; child: ChildProcess; logPath: string; exited: Promise<void>; running: boolean }

// Children must not outlive a crashed or interrupted test run: kill them from a synchronous
// 'exit' handler (the only thing Node still runs then), and drop their temp dirs.
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    for (const dir of liveDirs) {
      try { rmSync(dir, { recursive: true, force: true }); } catch { /* a dying child may still write; leave it */ }
    }
  });
}

function startProc(name: string, bin: string, args: string[], dir: string): Proc {
  installExitHook();
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  liveChildren.add(child);
  const proc: Proc = { name, child, logPath, running: true, exited: Promise.resolve() };
  proc.exited = new Promise((resolve) => {
    const done = () => { proc.running = false; liveChildren.delete(child); resolve(); };
    child.once('exit', done);
    child.once('error', done);
  });
  return proc;
}

async function logTail(proc: Proc, lines = 25): Promise<string> {
  const text = await readFile(proc.logPath, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function stopProc(proc: Proc, graceMs = 15_000): Promise<void> {
  if (!proc.running) return;
  proc.child.kill('SIGTERM');
  // Unref'd: a pending grace timer must not keep the Node process alive after a clean exit.
  const timer = sleep(graceMs, undefined, { ref: false }).then(() => 'timeout' as const);
  if ((await Promise.race([proc.exited.then(() => 'exited' as const), timer])) === 'timeout') {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/** Polls `check` until it returns true, failing fast (with the log tail) if the process dies. */
async function waitReady(proc: Proc, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not checked yet';
  while (Date.now() < deadline) {
    if (!proc.running) {
      throw new Error(`${proc.name} exited (code ${proc.child.exitCode}, signal ${proc.child.signalCode}) before ${what}; log ${proc.logPath}:\n${await logTail(proc)}`);
    }
    try {
      if (await check()) return;
      last = 'check returned false';
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last}); log ${proc.logPath}:\n${await logTail(proc)}`);
}

/** Distinct free loopback ports: all listeners are held open together so none is handed out twice. */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(0, '127.0.0.1', resolve); });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** The message of a Kubernetes Status body, or the body itself. */
export function statusMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

// ---- The control plane ----

interface CrdInfo { group: string; versions: string[]; plural: string; kind: string }
interface Crd {
  kind: string;
  metadata: { name: string };
  spec: { group: string; names: { plural: string; kind: string }; versions: Array<{ name: string; served: boolean }> };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

export class ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  /** kube-apiserver's gitVersion, from /version. */
  version = '';
  /** etcd's server version, from its /version. */
  etcdVersion = '';
  private readonly apiserverArgs: string[];
  private readonly apiserverBin: string;
  private readonly timeoutMs: number;
  private etcd: Proc | undefined;
  private apiserver: Proc | undefined;
  private crds: CrdInfo[] = [];
  private stopping: Promise<void> | undefined;
  private tls: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;

  private constructor(dir: string, apiserverBin: string, apiserverArgs: string[], port: number, timeoutMs: number) {
    this.dir = dir;
    this.apiserverBin = apiserverBin;
    this.apiserverArgs = apiserverArgs;
    this.server = `https://127.0.0.1:${port}`;
    this.kubeconfigPath = join(dir, 'admin.kubeconfig');
    this.timeoutMs = timeoutMs;
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await ControlPlane.startOnce(opts);
      } catch (err) {
        // Free ports are found, then released for the children to bind: another process may take one in between.
        if (attempt >= 3 || !(err as Error).message.includes('address already in use')) throw err;
      }
    }
  }

  private static async startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const [etcdBin, apiserverBin] = await Promise.all([binary('etcd'), binary('kube-apiserver')]);
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-cp-'));
    liveDirs.add(dir);
    const [etcdPort, peerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const p = (f: string) => join(dir, f);
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--cert-dir=${p('apiserver-certs')}`, `--tls-cert-file=${p('apiserver.crt')}`, `--tls-private-key-file=${p('apiserver.key')}`,
      `--client-ca-file=${p('ca.crt')}`,
      '--anonymous-auth=false',
      // RBAC only: there are no kubelets here, so the Node authorizer would have nothing to authorize.
      '--authorization-mode=RBAC',
      `--service-account-key-file=${p('sa.pub')}`, `--service-account-signing-key-file=${p('sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--profiling=false',
      // The 'kubernetes' Service cannot point at a loopback address; without this the endpoint
      // reconciler logs an error every 10 s for a Service nothing here uses.
      '--endpoint-reconciler-type=none',
      ...(opts.apiServerArgs ?? []),
    ];
    const cp = new ControlPlane(dir, apiserverBin, apiserverArgs, apiPort, opts.startTimeoutMs ?? 90_000);
    try {
      await createPki(dir);
      await writeKubeconfig(cp.kubeconfigPath, cp.server, p('ca.crt'), p('admin.crt'), p('admin.key'), 'toolgate-admin');
      cp.tls = { ca: await readFile(p('ca.crt')), cert: await readFile(p('admin.crt')), key: await readFile(p('admin.key')) };
      // Plain HTTP and no fsync for etcd: loopback only, throw-away data, and fsync is most of etcd's latency.
      cp.etcd = startProc('etcd', etcdBin, [
        '--name=toolgate', `--data-dir=${p('etcd-data')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`, `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=toolgate=http://127.0.0.1:${peerPort}`, '--initial-cluster-state=new',
        '--unsafe-no-fsync', '--log-level=warn',
      ], dir);
      await waitReady(cp.etcd, 'etcd /health', cp.timeoutMs, async () => {
        const res = await fetch(`http://127.0.0.1:${etcdPort}/health`);
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      });
      const etcdVersion = await fetch(`http://127.0.0.1:${etcdPort}/version`).then((r) => r.json() as Promise<{ etcdserver?: string }>);
      cp.etcdVersion = etcdVersion.etcdserver ?? 'unknown';
      await cp.startApiServer();
      if (opts.crds !== false) await cp.installCrds(opts.crds ?? join(repoRoot, 'crds'));
      return cp;
    } catch (err) {
      await cp.stop();
      throw err;
    }
  }

  /** The serializable handle vitest workers get through provide/inject. */
  get env(): ControlPlaneEnv {
    return { server: this.server, caCertPath: join(this.dir, 'ca.crt'), caKeyPath: join(this.dir, 'ca.key'), adminKubeconfig: this.kubeconfigPath, dir: this.dir };
  }

  mintUser(name: string, groups: string[]): Promise<string> {
    return mintUserKubeconfig(this.env, name, groups);
  }

  /** Starts (or restarts, on the same port and etcd) kube-apiserver and waits until it serves the CRDs. */
  async startApiServer(): Promise<void> {
    if (this.apiserver?.running) throw new Error('kube-apiserver is already running');
    if (this.stopping) throw new Error('control plane is stopped');
    const proc = startProc('kube-apiserver', this.apiserverBin, this.apiserverArgs, this.dir);
    this.apiserver = proc;
    await waitReady(proc, `kube-apiserver ${this.server}/readyz`, this.timeoutMs, async () => (await this.call('GET', '/readyz')).status === 200);
    this.version = (JSON.parse((await this.call('GET', '/version')).body) as { gitVersion: string }).gitVersion;
    for (const crd of this.crds) {
      for (const v of crd.versions) {
        await waitReady(proc, `${crd.group}/${v} ${crd.plural} to be served`, this.timeoutMs, async () => {
          const res = await this.call('GET', `/apis/${crd.group}/${v}`);
          return res.status === 200 && res.body.includes(`"name":"${crd.plural}"`);
        });
      }
    }
  }

  /** Stops kube-apiserver gracefully (SIGTERM), leaving etcd and its data in place. */
  async stopApiServer(): Promise<void> {
    if (this.apiserver) await stopProc(this.apiserver);
  }

  /** Kills both processes and removes the temp dir; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.apiserver) await stopProc(this.apiserver);
      if (this.etcd) await stopProc(this.etcd);
      liveDirs.delete(this.dir);
      if (!process.env.TOOLGATE_KEEP_CONTROLPLANE) await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  private async installCrds(crdDir: string): Promise<void> {
    const files = (await readdir(crdDir)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    const crds: Crd[] = [];
    for (const f of files) {
      for (const doc of parseAllDocuments(await readFile(join(crdDir, f), 'utf8'))) {
        const obj = doc.toJS() as Crd | null;
        if (obj?.kind === 'CustomResourceDefinition') crds.push(obj);
      }
    }
    if (crds.length === 0) throw new Error(`no CustomResourceDefinition found in ${crdDir}`);
    const apiserver = this.apiserver as Proc;
    const crdPath = (name: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    // Raw HTTP, not client-node's KubernetesObjectApi: its typed serializer silently drops wire
    // names it does not map (x-kubernetes-validations under properties, x-kubernetes-preserve-unknown-fields).
    for (const crd of crds) {
      const res = await this.call('PATCH', `${crdPath(crd.metadata.name)}?fieldManager=${fieldManager}&force=true`, JSON.stringify(crd));
      if (res.status >= 300) {
        throw new Error(`installing CRD ${crd.metadata.name} from ${crdDir} was refused by kube-apiserver (HTTP ${res.status}): ${statusMessage(res.body)}`);
      }
    }
    for (const crd of crds) {
      const { name } = crd.metadata;
      await waitReady(apiserver, `CRD ${name} to be Established`, this.timeoutMs, async () => {
        const res = await this.call('GET', crdPath(name));
        const live = JSON.parse(res.body) as Crd;
        return res.status === 200 && (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false);
      });
      const info = { group: crd.spec.group, plural: crd.spec.names.plural, kind: crd.spec.names.kind, versions: crd.spec.versions.filter((v) => v.served).map((v) => v.name) };
      this.crds.push(info);
      // `kubectl explain` and client-side tooling read the published OpenAPI, which lags Established.
      const schemaKey = `"${info.group.split('.').reverse().join('.')}.`;
      for (const v of info.versions) {
        await waitReady(apiserver, `OpenAPI v3 for ${info.kind} (${info.group}/${v})`, this.timeoutMs, async () => {
          const res = await this.call('GET', `/openapi/v3/apis/${info.group}/${v}`);
          return res.status === 200 && res.body.includes(`${schemaKey}${v}.${info.kind}"`);
        });
      }
    }
  }

  /** A request as the admin, bypassing client libraries so start-up has no moving parts. */
  private call(method: 'GET' | 'PATCH', path: string, body?: string): Promise<{ status: number; body: string }> {
    const tls = this.tls;
    if (!tls) return Promise.reject(new Error('PKI not created yet'));
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/apply-patch+yaml' };
    return new Promise((resolve, reject) => {
      const req = request(`${this.server}${path}`, { ...tls, method, headers, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
