// Runs @modelcontextprotocol/inspector-cli (pinned in package.json) in CLI mode against a URL.
//
// `mcp-inspector-cli --cli <url> …` is a launcher that spawns build/index.js with the same
// arguments; we run index.js ourselves to spare a second Node start per operation on a small
// machine. index.js finds its own package.json by a path relative to the *working directory*
// (inspector-cli 1.0.3), so it runs from its build directory, as the launcher's users get by luck.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const buildDir = join(dirname(require.resolve('@modelcontextprotocol/inspector-cli/package.json')), 'build');

export interface InspectorRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One operation, e.g. ['--method', 'tools/call', '--tool-name', 'x'], with the given headers. */
export function runInspector(url: string, operation: readonly string[], headers: Readonly<Record<string, string>> = {}, timeoutMs = 30_000): Promise<InspectorRun> {
  const args = [join(buildDir, 'index.js'), url, '--transport', 'http', ...Object.entries(headers).flatMap(([k, v]) => ['--header', `${k}: ${v}`]), ...operation];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: buildDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The operation's JSON result, or a description of why there is none (exit code and stderr). */
export function resultOf(run: InspectorRun): unknown {
  if (run.code !== 0) return { failed: run.code, stderr: run.stderr.trim().split('\n').slice(-3).join('\n') };
  return JSON.parse(run.stdout) as unknown;
}
