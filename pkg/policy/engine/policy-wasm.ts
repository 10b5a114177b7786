// Where policy.wasm comes from outside a bundle: built from pkg/policy/rego with the real opa
// CLI (`make policy` does the same). Tests, benchmarks and local runs use it; production
// authorizers receive the wasm inside the operator's bundle.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTRYPOINTS } from './types.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const policyDir = path.join(repoRoot, 'pkg', 'policy', 'rego');

export const defaultWasmPath = path.join(repoRoot, 'build', 'policy', 'policy.wasm');

export function opaBinary(): string {
  const dir = process.env.TOOLGATE_BIN_DIR ?? path.join(repoRoot, 'build', 'bin');
  return path.join(dir, 'opa');
}

/** Rego sources the wasm is built from (tests excluded, as `opa build --ignore` does). */
function regoSources(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego')).map((f) => path.join(dir, f));
}

export function wasmIsStale(wasmPath = defaultWasmPath): boolean {
  if (!existsSync(wasmPath)) return true;
  const built = statSync(wasmPath).mtimeMs;
  return regoSources(policyDir).some((f) => statSync(f).mtimeMs > built);
}

/** Compiles the Rego to wasm; the file is replaced atomically so concurrent readers never see half of it. */
export function buildPolicyWasm(
  wasmPath = defaultWasmPath,
  sourceDir = policyDir,
  entrypoints: readonly string[] = Object.values(ENTRYPOINTS),
): string {
  const opa = opaBinary();
  if (!existsSync(opa)) throw new Error(`opa not found at ${opa}; run \`make build/bin/opa\` or set TOOLGATE_BIN_DIR`);
  mkdirSync(path.dirname(wasmPath), { recursive: true });
  const tmp = mkdtempSync(path.join(path.dirname(wasmPath), '.build-'));
  const run = (args: string[], what: string) => {
    try {
      return execFileSync(opa, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${what} failed: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: err });
    }
  };
  try {
    const bundle = path.join(tmp, 'bundle.tar.gz');
    run(['build', '-t', 'wasm', ...entrypoints.flatMap((e) => ['-e', e]), '-o', bundle, '--ignore', '*_test.rego', sourceDir], `opa build of ${sourceDir}`);
    // -m: the bundle's members carry mtime 0, which would make the wasm look stale forever.
    execFileSync('tar', ['-xzmf', bundle, '-C', tmp, '/policy.wasm'], { stdio: ['ignore', 'pipe', 'pipe'] });
    chmodSync(path.join(tmp, 'policy.wasm'), 0o644);
    renameSync(path.join(tmp, 'policy.wasm'), wasmPath);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return wasmPath;
}

/** The path of an up-to-date policy.wasm, building it first when missing or older than the Rego. */
export function ensurePolicyWasm(wasmPath = defaultWasmPath): string {
  return wasmIsStale(wasmPath) ? buildPolicyWasm(wasmPath) : wasmPath;
}
