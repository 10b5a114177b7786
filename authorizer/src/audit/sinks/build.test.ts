import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const build = fileURLToPath(new URL('./build.ts', import.meta.url));
const channel = { mode: 'async', maxLines: 10, maxBytes: 1024, batchLines: 1, timeoutMs: 1000 };

// A fresh process, so what it loads is only what buildSinks made it load: the resolve hook sees
// every module the process asks for, and counts the S3 SDK's.
const script = `
import { registerHooks } from 'node:module';
let s3 = 0;
registerHooks({ resolve(spec, ctx, next) { if (spec.startsWith('@aws-sdk/client-s3')) s3++; return next(spec, ctx); } });
const { buildSinks } = await import(${JSON.stringify(build)});
const retention = { months: 12, longMonths: 36, longLabels: new Set() };
const ctx = { instance: 'pod-0', retention };
const stdout = await buildSinks([{ kind: 'stdout', channel: ${JSON.stringify(channel)}, prefix: 'audit ', stream: 'stderr' }], ctx);
const afterStdout = s3;
const withS3 = await buildSinks([{ kind: 's3', channel: ${JSON.stringify(channel)}, bucket: 'b', prefix: 'p', region: 'us-east-1', forcePathStyle: true, lockMode: 'COMPLIANCE' }], ctx);
process.stdout.write(JSON.stringify({ afterStdout, afterS3: s3, kinds: [...stdout, ...withS3].map((s) => s.sink.constructor.name) }));
`;

describe('buildSinks', () => {
  it('loads the S3 SDK only when an S3 sink is configured', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const result = JSON.parse(out) as { afterStdout: number; afterS3: number; kinds: string[] };
    expect(result.afterStdout).toBe(0);
    expect(result.afterS3).toBeGreaterThan(0);
    expect(result.kinds).toEqual(['StdoutSink', 'S3Sink']);
  });
});
