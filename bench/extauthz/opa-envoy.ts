// The peer Envoy users pick: opa-envoy-plugin (OPA with the envoy_ext_authz_grpc plugin) serving
// ext_authz gRPC with toolgate's decision program and compiled data, evaluated by OPA's Rego
// engine (the plugin's only one). opa-envoy-adapter.rego maps the plugin's input onto
// toolgate's input document and the decision onto the CheckResponse toolgate gives.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyDir, repoRoot } from '../../pkg/policy/engine/policy-wasm.ts';
import { freePort } from '../../test/harness/accounts.ts';
import type { CallerIdentity } from '../../authorizer/src/gate/index.ts';

export const opaEnvoyBinary = () => join(process.env.TOOLGATE_BIN_DIR ?? join(repoRoot, 'build', 'bin'), 'opa-envoy-plugin');
export const adapterPath = fileURLToPath(new URL('./opa-envoy-adapter.rego', import.meta.url));
/** The plugin's `path`: the adapter's rule answering each Check. */
export const decisionPath = 'envoy/toolgate/response';

export interface PluginIdentity {
  /** The issuer's JWKS document (JSON text), as io.jwt.decode_verify's `cert` takes it. */
  jwks: string;
  issuer: string;
  audience: string;
}

export interface PluginOptions {
  /** Where the policy files are laid out (a fresh directory). */
  dir: string;
  /** The compiled data.json exactly as the bundle carries it. */
  dataJson: Buffer;
  /** A fixed caller, or a JWT issuer whose bearer tokens name the caller. */
  caller: Pick<CallerIdentity, 'agent' | 'operator' | 'roles' | 'scopes'> | { identity: PluginIdentity };
  /** Prefix of the plugin's command line, e.g. ['taskset', '-c', '0']. */
  wrap?: readonly string[];
}

export interface RunningPlugin {
  grpcPort: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Lays out the policy the way the plugin loads it and starts it: toolgate's Rego (tests
 * excluded), the adapter, the compiled data.json at the data root, and data.bench with the caller.
 */
export async function startOpaEnvoy(o: PluginOptions): Promise<RunningPlugin> {
  mkdirSync(join(o.dir, 'toolgate'), { recursive: true });
  for (const f of readdirSync(policyDir).filter((n) => n.endsWith('.rego') && !n.endsWith('_test.rego'))) copyFileSync(join(policyDir, f), join(o.dir, 'toolgate', f));
  copyFileSync(adapterPath, join(o.dir, 'adapter.rego'));
  writeFileSync(join(o.dir, 'data.json'), o.dataJson);
  writeFileSync(join(o.dir, 'bench.json'), JSON.stringify({ bench: 'identity' in o.caller ? { identity: o.caller.identity } : { caller: o.caller } }));
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  // Decision logs stay off (no decision_logs section), as toolgate's bench server writes no audit.
  writeFileSync(join(o.dir, 'config.yaml'), [
    'plugins:',
    '  envoy_ext_authz_grpc:',
    `    addr: 127.0.0.1:${grpcPort}`,
    `    path: ${decisionPath}`,
    '    dry-run: false',
    '    enable-reflection: false',
    '',
  ].join('\n'));
  const args = [
    'run', '--server', '--addr', `127.0.0.1:${httpPort}`, '--log-level', 'error', '--skip-version-check', '--disable-telemetry',
    '--config-file', join(o.dir, 'config.yaml'),
    join(o.dir, 'toolgate'), join(o.dir, 'adapter.rego'), join(o.dir, 'data.json'), join(o.dir, 'bench.json'),
  ];
  const [cmd, ...rest] = [...(o.wrap ?? []), opaEnvoyBinary(), ...args];
  const child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (d: Buffer) => output.push(...d.toString('utf8').split('\n').filter(Boolean).slice(-40));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  // /health?plugins answers 200 only once the ext_authz plugin reports ready (policy loaded, gRPC serving).
  while (Date.now() < deadline && child.exitCode === null) {
    const ok = await fetch(`http://127.0.0.1:${httpPort}/health?plugins`).then((r) => r.ok, () => false);
    if (ok) return { grpcPort, pid: child.pid, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`opa-envoy-plugin did not become ready (${child.exitCode === null ? 'timeout' : `exit ${child.exitCode}`}); output:\n${output.join('\n')}`);
}
