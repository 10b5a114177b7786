// The S3 sink: each delivered batch becomes one object, written once under Object Lock
// retention, so neither the agent nor anyone holding the pod's credentials can change or remove
// it before its retain-until date (COMPLIANCE mode: not even the bucket's owner; GOVERNANCE: only
// a principal granted s3:BypassGovernanceRetention). The bucket must have Object Lock enabled
// (which turns on versioning); the sink does not create it.
//
// Key: <prefix><instance>/<first seq>-<last seq>.jsonl, seqs zero-padded to 16 digits so the
// keys of an instance list in chain order. A retried batch may be written again under the same
// key (a new version beside the locked one) or cover seqs an earlier object holds: the reader
// (s3-read.ts) yields each seq once. Content-MD5 (which S3 requires with Object Lock) and a
// SHA-256 checksum let the store refuse a corrupted upload.
import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { addMonths, defaultRetention, retentionMonthsOf, type RetentionPolicy } from './retention.ts';
import { SinkWriteError, type AuditSink } from './sink.ts';

export type ObjectLockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface S3SinkOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, e.g. "toolgate/audit/" (may be empty). */
  prefix: string;
  /** The chain's owner: the pod name (one chain per authorizer instance). */
  instance: string;
  mode: ObjectLockMode;
  retention?: RetentionPolicy;
  now?: () => Date;
}

const seqPad = 16;

/** The object key of a batch of an instance's chain. */
export function segmentKey(prefix: string, instance: string, first: number, last: number): string {
  return `${prefix}${instance}/${String(first).padStart(seqPad, '0')}-${String(last).padStart(seqPad, '0')}.jsonl`;
}

/** The seq of a chained line (the open line is seq 0). */
function seqOf(line: string): number {
  const seq = (JSON.parse(line) as { seq?: unknown }).seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) throw new SinkWriteError('an audit line without a seq reached the S3 sink');
  return seq;
}

export class S3Sink implements AuditSink {
  readonly name = 's3';
  readonly #o: S3SinkOptions;

  constructor(o: S3SinkOptions) {
    this.#o = o;
  }

  async write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const body = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
    const months = Math.max(...lines.map((l) => retentionMonthsOf(l, this.#o.retention ?? defaultRetention)));
    const key = segmentKey(this.#o.prefix, this.#o.instance, seqOf(lines[0]!), seqOf(lines.at(-1)!));
    try {
      await this.#o.client.send(new PutObjectCommand({
        Bucket: this.#o.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/x-ndjson',
        ContentMD5: createHash('md5').update(body).digest('base64'),
        ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
        ObjectLockMode: this.#o.mode,
        ObjectLockRetainUntilDate: addMonths((this.#o.now ?? (() => new Date()))(), months),
      }));
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new SinkWriteError(`PutObject s3://${this.#o.bucket}/${key}: ${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`, { cause: err });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
