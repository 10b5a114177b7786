// A real S3-compatible server with Object Lock for the S3 audit sink's tests: versitygw
// (Apache-2.0), built from its Go module by `make tools`, on its posix backend (objects are
// files, lock state and versions in xattrs and a versioning directory). Started per test file
// on a free loopback port with its own root directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { binary } from '../harness/controlplane.ts';

export interface S3Server {
  endpoint: string;
  client: S3Client;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function s3Client(endpoint: string, credentials: S3Server['credentials']): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

export async function startVersitygw(): Promise<S3Server> {
  const bin = await binary('versitygw');
  const root = mkdtempSync(join(tmpdir(), 'toolgate-versitygw-'));
  mkdirSync(join(root, 'data'));
  mkdirSync(join(root, 'versions'));
  const port = await freePort();
  const credentials = { accessKeyId: 'toolgate-test', secretAccessKey: 'toolgate-test-secret' };
  let output = '';
  const child: ChildProcess = spawn(bin, ['--access', credentials.accessKeyId, '--secret', credentials.secretAccessKey, '--port', `127.0.0.1:${port}`, 'posix', '--versioning-dir', join(root, 'versions'), join(root, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = s3Client(endpoint, credentials);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}: ${output.slice(-2000)}`);
    try {
      await client.send(new ListBucketsCommand({}));
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`versitygw did not answer on ${endpoint} within 30 s (${(err as Error).message}): ${output.slice(-2000)}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    endpoint, client, credentials,
    async stop() {
      client.destroy();
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
