// The two HTTP decision services the benchmark compares, each in its own process: a real
// `opa run --server` loading the signed bundle, and toolgate's evaluator (toolgate-server.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { opaBinary } from '../pkg/policy/engine/policy-wasm.ts';
import { freePort } from '../test/harness/accounts.ts';

export interface Service {
  name: string;
  /** The decision URL (POST {"input": ...}). */
  url: string;
  child: ChildProcess;
  logs: string[];
  stop: () => Promise<void>;
}

export interface BundleOnDisk {
  archivePath: string;
  publicKeyPath: string;
  keyId: string;
}

const decisionPath = '/v1/data/toolgate/decision';

function track(name: string, child: ChildProcess, url: string): Service {
  const logs: string[] = [];
  const keep = (d: Buffer) => logs.push(...d.toString('utf8').split('\n').filter(Boolean).slice(-50));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return { name, url, child, logs, stop };
}

async function waitUntil(service: Service, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) break;
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  await service.stop();
  throw new Error(`${service.name} did not become ready; last output:\n${service.logs.slice(-20).join('\n')}`);
}

/** `opa run --server` with the bundle loaded from disk and its signature verified. */
export async function startOpa(bundle: BundleOnDisk): Promise<Service> {
  const port = await freePort();
  const args = [
    'run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', '--skip-version-check',
    '--verification-key', bundle.publicKeyPath, '--verification-key-id', bundle.keyId, '--signing-alg', 'ES256',
    '--bundle', bundle.archivePath,
  ];
  const child = spawn(opaBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const service = track('opa', child, `http://127.0.0.1:${port}${decisionPath}`);
  // /health?bundles answers 200 only once every bundle is activated.
  await waitUntil(service, async () => (await fetch(`http://127.0.0.1:${port}/health?bundles`)).status === 200);
  return service;
}

/** Which engine OPA evaluated the decision with: its wasm VM timers appear only when wasm answered. */
export async function opaEngine(service: Service, input: unknown): Promise<'wasm' | 'rego'> {
  const res = await fetch(`${service.url}?metrics=true`, { method: 'POST', body: JSON.stringify({ input }) });
  const metrics = ((await res.json()) as { metrics?: Record<string, number> }).metrics ?? {};
  return 'timer_wasm_vm_eval_ns' in metrics ? 'wasm' : 'rego';
}

export async function startToolgate(bundle: BundleOnDisk): Promise<Service> {
  const script = fileURLToPath(new URL('./toolgate-server.ts', import.meta.url));
  const child = spawn(process.execPath, [script, bundle.archivePath, bundle.publicKeyPath, bundle.keyId], { stdio: ['ignore', 'pipe', 'pipe'] });
  let port = 0;
  child.stdout.on('data', (d: Buffer) => {
    const m = /"port":(\d+)/.exec(d.toString('utf8'));
    if (m) port = Number(m[1]);
  });
  const service = track('toolgate', child, '');
  await waitUntil(service, () => Promise.resolve(port !== 0));
  service.url = `http://127.0.0.1:${port}${decisionPath}`;
  return service;
}
