// A real Vault dev server on loopback for tests (in-memory storage, KV v2 at secret/, HTTP).
// Test-only: nothing in the authorizer imports this file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import nodeVault from 'node-vault';
import { freePort } from '../harness/accounts.ts';

export interface DevVault {
  endpoint: string;
  /** A client holding the root token, for test setup only. */
  root: nodeVault.client;
  version: string;
  stop(): Promise<void>;
}

export async function startDevVault(bin: string, timeoutMs = 30_000): Promise<DevVault> {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-vault-'));
  const rootToken = randomBytes(16).toString('hex');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logPath = join(dir, 'vault.log');
  const fd = openSync(logPath, 'a');
  // HOME points at the temp dir so the dev server's token helper writes nothing to the real one.
  const child: ChildProcess = spawn(bin, ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'], {
    stdio: ['ignore', fd, fd],
    env: { PATH: process.env.PATH ?? '', HOME: dir, VAULT_LOG_LEVEL: 'warn' },
  });
  closeSync(fd);
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const root = nodeVault({ endpoint, token: rootToken, debug: () => undefined, requestOptions: { timeout: 5_000 } });
  const deadline = Date.now() + timeoutMs;
  let version: string;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vault exited (code ${child.exitCode}) during start-up; log ${logPath}:\n${await readFile(logPath, 'utf8')}`);
    try {
      const health = (await root.health()) as { initialized?: boolean; sealed?: boolean; version?: string };
      if (health.initialized && health.sealed === false) { version = health.version ?? ''; break; }
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`vault at ${endpoint} not ready after ${timeoutMs} ms; log ${logPath}`);
    await sleep(100);
  }
  return {
    endpoint, root, version,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(kill)]);
      process.removeListener('exit', kill);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
