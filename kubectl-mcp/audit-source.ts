// Where `kubectl mcp audit` reads a trail from: a file (a PersistentVolume mounted or copied out
// is a file), or, once wired, the S3 sink. Every reader is a TrailSource
// (authorizer/src/audit/verify.ts): an async iterable of lines, so verify and show work on any.
import { access } from 'node:fs/promises';
import { rotatedFileSource } from '../authorizer/src/audit/rotation.ts';
import type { TrailSource } from '../authorizer/src/audit/verify.ts';
import { CliError } from './cli.ts';

export type { TrailSource };

/**
 * The S3 sink's reader: `--s3 s3://bucket/prefix` (with --s3-endpoint, --s3-region). The sinks
 * work (authorizer/src/audit/sinks/) provides the reader; wiring it is this function's body.
 */
export function s3TrailSource(uri: string, _o: { endpoint?: string; region?: string }): TrailSource {
  throw new CliError(`reading a trail from S3 (${uri}) is not wired into this build yet; copy the objects to a file and pass the file`);
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
