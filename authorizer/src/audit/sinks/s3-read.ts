// Reads an instance's chain back from the S3 sink's objects, in chain order, each seq once
// (a retried batch can leave overlapping objects; see s3.ts). The lines come out as written, for
// the verifier: `kubectl mcp audit --s3` reads through this.
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';

export interface S3TrailSource {
  client: S3Client;
  bucket: string;
  prefix: string;
  instance: string;
}

const keyPattern = /\/(\d{16})-(\d{16})\.jsonl$/;

/** The keys of an instance's objects, in chain order. */
export async function listTrailObjects(s: S3TrailSource): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s.client }, { Bucket: s.bucket, Prefix: `${s.prefix}${s.instance}/` })) {
    for (const o of page.Contents ?? []) if (o.Key && keyPattern.test(o.Key)) keys.push(o.Key);
  }
  // Zero-padded: lexical order is seq order (overlaps are skipped by seq while reading).
  return keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The instance's trail lines (no newline) in seq order, starting with its open line when S3 has it. */
export async function* readTrailFromS3(s: S3TrailSource): AsyncGenerator<string> {
  let last = -1;
  for (const key of await listTrailObjects(s)) {
    const m = keyPattern.exec(key)!;
    if (Number(m[2]) <= last) continue;
    const res = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    const text = await res.Body!.transformToString('utf8');
    for (const [i, line] of text.split('\n').entries()) {
      if (line === '') continue;
      const seq = seqOf(line, key, i + 1);
      if (seq <= last) continue;
      last = seq;
      yield line;
    }
  }
}

/** A line's seq; a line without one is named by object and line (the verifier says the rest). */
function seqOf(line: string, key: string, n: number): number {
  let seq: unknown;
  try {
    seq = (JSON.parse(line) as { seq?: unknown }).seq;
  } catch {
    throw new Error(`s3 object ${key}, line ${n}: not JSON (the object was not written by the audit sink)`);
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new Error(`s3 object ${key}, line ${n}: no seq (the object was not written by the audit sink)`);
  return seq;
}
