// The kubectl plugin run in-process, its output captured: for tests that check what a user sees.
import { PassThrough } from 'node:stream';
import { main } from '../../kubectl-mcp/commands.ts';

export async function runKubectlMcp(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => { o += c.toString(); });
  err.on('data', (c: Buffer) => { e += c.toString(); });
  const code = await main(argv, out, err);
  return { code, out: o, err: e };
}
