// Turns the sinks' configuration into sinks and their channel settings (wiring only). The S3
// SDK is imported only when an S3 sink is configured: loading it costs the authorizer ~30 MiB of
// RSS (bench/soak), which every pod without that sink would carry for nothing.
import { readFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AuditSinkSettings } from '../trail.ts';
import type { AuditSinkConfig } from './config.ts';
import { HttpSink } from './http.ts';
import type { RetentionPolicy } from './retention.ts';
import type { AuditSink } from './sink.ts';
import { StdoutSink } from './stdout.ts';

export interface BuildContext {
  /** The chain's owner (the pod name): the S3 keys' instance. */
  instance: string;
  retention: RetentionPolicy;
  /** Tests pass an S3 client with their credentials; otherwise the SDK's default chain (IRSA, env). */
  s3Client?: (c: Extract<AuditSinkConfig, { kind: 's3' }>) => S3Client;
}

async function sinkOf(c: AuditSinkConfig, ctx: BuildContext): Promise<AuditSink> {
  switch (c.kind) {
    case 'stdout':
      return new StdoutSink({ stream: c.stream === 'stderr' ? process.stderr : process.stdout, prefix: c.prefix });
    case 'http': {
      const tokenFile = c.tokenFile;
      return new HttpSink({ url: c.url, timeoutMs: c.timeoutMs, ...(tokenFile ? { token: () => readFileSync(tokenFile, 'utf8').trim() || undefined } : {}) });
    }
    case 's3': {
      const [{ S3Client }, { S3Sink }] = await Promise.all([import('@aws-sdk/client-s3'), import('./s3.ts')]);
      const client = ctx.s3Client?.(c) ?? new S3Client({ region: c.region, forcePathStyle: c.forcePathStyle, ...(c.endpoint ? { endpoint: c.endpoint } : {}) });
      return new S3Sink({ client, bucket: c.bucket, prefix: c.prefix, instance: ctx.instance, mode: c.lockMode, retention: ctx.retention });
    }
  }
}

export async function buildSinks(configs: readonly AuditSinkConfig[], ctx: BuildContext): Promise<AuditSinkSettings[]> {
  return Promise.all(configs.map(async (c) => ({ sink: await sinkOf(c, ctx), ...c.channel })));
}
