// Shared by the bundle tests: the real opa CLI (built by `make tools`) as the reference
// implementation, and small file helpers. Not imported by production code.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBundleFiles } from '../../pkg/bundle/bundle.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface OpaResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The opa binary; fails (never skips) when it is missing, so a broken setup cannot pass. */
export async function opaBinary(): Promise<string> {
  const path = join(process.env.TOOLGATE_BIN_DIR ?? join(repoRoot, 'build', 'bin'), 'opa');
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(`opa not found at ${path}; run \`make tools\``);
  }
  return path;
}

export async function runOpa(args: string[], cwd?: string): Promise<OpaResult> {
  const bin = await opaBinary();
  return await new Promise((resolve) => {
    execFile(bin, args, { cwd, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `toolgate-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Writes files (paths relative to dir, a leading '/' ignored). */
export async function writeFiles(dir: string, files: Iterable<{ name: string; data: Uint8Array | string }>): Promise<void> {
  for (const f of files) {
    const path = join(dir, f.name.replace(/^\//, ''));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.data);
  }
}

/** The decoded payload of the single JWS in a .signatures.json. */
export function decodeSignaturePayload(signaturesJson: string | Uint8Array): { files: { name: string; hash: string; algorithm: string }[]; [k: string]: unknown } {
  const text = typeof signaturesJson === 'string' ? signaturesJson : Buffer.from(signaturesJson).toString('utf8');
  const token = (JSON.parse(text) as { signatures: string[] }).signatures[0] ?? '';
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as ReturnType<typeof decodeSignaturePayload>;
}

/** Compiles Rego to wasm with the real opa and returns policy.wasm (read with our own tar reader). */
export async function compileWasm(rego: string, entrypoints: string[]): Promise<Buffer> {
  const dir = await tempDir('wasm');
  try {
    await writeFiles(dir.path, [{ name: 'policy.rego', data: rego }]);
    const res = await runOpa(['build', '-t', 'wasm', ...entrypoints.flatMap((e) => ['-e', e]), '-o', 'bundle.tar.gz', 'policy.rego'], dir.path);
    if (res.code !== 0) throw new Error(`opa build -t wasm failed: ${res.stderr}`);
    const wasm = (await readBundleFiles(await readFile(join(dir.path, 'bundle.tar.gz')))).get('policy.wasm');
    if (!wasm) throw new Error('opa build produced no policy.wasm');
    return wasm;
  } finally {
    await dir.remove();
  }
}
