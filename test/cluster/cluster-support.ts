// Helpers of the cluster test: the node of hack/cluster/up.sh, and kubectl/helm/node run inside
// its network namespace (the only place its API server and Service addresses exist).
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const binDir = process.env.TOOLGATE_BIN_DIR ?? `${root}build/bin`;

/** CLUSTER_DIR, CLUSTER_NETNS, CLUSTER_KUBECONFIG as hack/cluster/env.sh derives them. */
export function clusterEnv(): { dir: string; netns: string; kubeconfig: string } {
  const r = spawnSync('bash', ['-c', `source ${root}hack/cluster/env.sh && echo "$CLUSTER_DIR" && echo "$CLUSTER_NETNS" && echo "$CLUSTER_KUBECONFIG"`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hack/cluster/env.sh failed: ${r.stderr}`);
  const [dir, netns, kubeconfig] = r.stdout.trim().split('\n') as [string, string, string];
  return { dir, netns, kubeconfig };
}

/** Why the test cannot run here, or undefined when it can (root and network namespaces). */
export function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns unavailable: ${r.stderr || r.error?.message}`;
  return undefined;
}

export interface Run { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: root, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export async function must(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export class Cluster {
  readonly netns: string;
  readonly kubeconfig: string;
  constructor(netns: string, kubeconfig: string) {
    this.netns = netns;
    this.kubeconfig = kubeconfig;
  }

  /** A command in the cluster's network namespace. */
  inNetns(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<Run> {
    return run('ip', ['netns', 'exec', this.netns, cmd, ...args], opts);
  }

  async kubectl(args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
    const r = await this.inNetns(`${binDir}/kubectl`, ['--kubeconfig', this.kubeconfig, ...args], opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  async helm(args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
    const r = await this.inNetns(`${binDir}/helm`, ['--kubeconfig', this.kubeconfig, ...args], opts);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  apply(objects: unknown[]): Promise<string> {
    return this.kubectl(['apply', '--server-side', '--field-manager=cluster-test', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
  }

  async getJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.kubectl([...args, '-o', 'json'])) as T;
  }
}

export interface PodList { items: Array<{ metadata: { name: string }; status: { phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ restartCount: number; ready: boolean }> } }> }

export const readyPods = (list: PodList) => list.items.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Polls until fn returns a value other than undefined, or fails naming what it waited for. */
export async function waitFor<T>(description: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${description}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
