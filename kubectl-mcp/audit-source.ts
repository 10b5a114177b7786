// Where `kubectl mcp audit` reads a trail from: a file (a PersistentVolume mounted or copied out
// is a file), or the S3 sink's objects. Every reader is a TrailSource
// (authorizer/src/audit/verify.ts): an async iterable of lines, so verify and show work on any.
import { access } from 'node:fs/promises';
import { rotatedFileSource } from '../authorizer/src/audit/rotation.ts';
import type { TrailSource } from '../authorizer/src/audit/verify.ts';
import { CliError } from './cli.ts';

export type { TrailSource };

/**
 * The S3 sink's reader: `--s3 s3://BUCKET/PREFIX/INSTANCE` names one authorizer instance's chain
 * (the sink writes `PREFIX/INSTANCE/<first seq>-<last seq>.jsonl`). Credentials come from the
 * SDK's default chain (AWS_* variables, a profile, IRSA): the reader's, never the agent's.
 * `--s3-endpoint` points at an S3-compatible store (path-style addressing then).
 */
export function s3TrailSource(uri: string, o: { endpoint?: string; region?: string }): TrailSource {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/((?:[^/]+\/)*)([^/]+)\/?$/.exec(uri);
  if (!m) throw new CliError(`--s3 ${uri}: give s3://BUCKET/PREFIX/INSTANCE (the audit sink's bucket, its prefix, and the authorizer pod whose chain to read)`);
  const [, bucket, prefix, instance] = m as unknown as [string, string, string, string];
  return {
    name: uri,
    async *lines() {
      // Loaded only here: reading a file needs none of the SDK.
      const [{ S3Client }, { readTrailFromS3 }] = await Promise.all([import('@aws-sdk/client-s3'), import('../authorizer/src/audit/sinks/s3-read.ts')]);
      const client = new S3Client({ region: o.region ?? process.env.AWS_REGION ?? 'us-east-1', ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true } : {}) });
      try {
        for await (const text of readTrailFromS3({ client, bucket, prefix, instance })) yield { text, terminated: true };
      } finally {
        client.destroy();
      }
    },
  };
}

export async function trailSource(file: string | undefined, s3: { uri?: string; endpoint?: string; region?: string }, command: string): Promise<TrailSource> {
  if (s3.uri !== undefined) {
    if (file !== undefined) throw new CliError(`${command}: give a FILE or --s3, not both`);
    return s3TrailSource(s3.uri, { ...(s3.endpoint ? { endpoint: s3.endpoint } : {}), ...(s3.region ? { region: s3.region } : {}) });
  }
  if (file === undefined) throw new CliError(`${command}: which trail? give a FILE (the authorizer's AUDIT_FILE, e.g. copied from its volume)`);
  try {
    await access(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  // The file and the rotated files beside it (FILE.<seq>), read as the one chain they are.
  return rotatedFileSource(file);
}
