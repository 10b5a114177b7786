// Runs `kubectl mcp ...` through the real kubectl binary, which finds the plugin on PATH.
// kubectl refuses flags before a plugin's name ("flags cannot be placed before plugin name"),
// so unlike kubectl() in kube.ts the kubeconfig goes after the plugin's arguments.
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binary } from './controlplane.ts';
import type { KubectlResult } from './kube.ts';

/** The directory holding the `kubectl-mcp` executable (a link to cmd/kubectl-mcp/main.ts). */
export const pluginDir = fileURLToPath(new URL('../../cmd/kubectl-mcp/', import.meta.url));

export async function kubectlMcp(kubeconfig: string, args: string[], input = ''): Promise<KubectlResult> {
  const child = spawn(await binary('kubectl'), ['mcp', ...args, `--kubeconfig=${kubeconfig}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 30_000,
    // The plugin first, then the Node running the tests (>= 24, which runs .ts) for its shebang.
    env: { ...process.env, PATH: `${pluginDir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  return { code, stdout, stderr };
}
