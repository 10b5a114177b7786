// The S3 audit sink against a real S3-compatible server with Object Lock (versitygw, built by
// `make tools`): the trail's batches land as write-once objects under COMPLIANCE retention
// (36 months for a health-data record, 12 otherwise), readTrailFromS3 gives back the trail's
// lines in order, and the store refuses what an attacker holding the sink's credentials would try.
//
// What S3 Object Lock guarantees, and what this proves on the real server: a locked object
// VERSION cannot be deleted (DeleteObject with its versionId) or have its retention shortened
// before its retain-until date — in COMPLIANCE mode not even with the governance bypass. A PUT to
// the same key is not refused: it adds a NEW version and the locked version stays, byte for byte;
// a DeleteObject without versionId only adds a delete marker, the locked version stays. So the
// reader's evidence is the locked versions; their digests are in the versions listing.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, GetObjectRetentionCommand, ListObjectVersionsCommand, PutObjectCommand, PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../authorizer/src/audit/trail.ts';
import { addMonths } from '../../authorizer/src/audit/sinks/retention.ts';
import { listTrailObjects, readTrailFromS3 } from '../../authorizer/src/audit/sinks/s3-read.ts';
import { S3Sink } from '../../authorizer/src/audit/sinks/s3.ts';
import { chainBreak, sampleDecision } from '../support/audit-sink.ts';
import { startVersitygw, type S3Server } from '../support/versitygw.ts';
import { runKubectlMcp } from '../support/kubectl-mcp.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-audit-s3-'));
const bucket = 'toolgate-audit';
const prefix = 'trails/';
const fileLines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const now = new Date('2026-12-02T03:00:00.000Z');

let s3: S3Server;
beforeAll(async () => {
  s3 = await startVersitygw();
  await s3.client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
}, 60_000);
afterAll(async () => {
  await s3?.stop();
});

const cli = runKubectlMcp;

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(l);
  return out;
}

const sinkFor = (instance: string, mode: 'COMPLIANCE' | 'GOVERNANCE' = 'COMPLIANCE') => new S3Sink({ client: s3.client, bucket, prefix, instance, mode, now: () => now });

describe('S3 audit sink with Object Lock', () => {
  let file: string;
  const instance = 'authorizer-0';

  beforeAll(async () => {
    file = join(dir, 'a', 'audit.jsonl');
    const trail = await AuditTrail.open({
      file, log, fsync: false,
      sinks: [{ sink: sinkFor(instance), mode: 'required', maxLines: 1000, maxBytes: 1 << 20, batchLines: 3, timeoutMs: 10_000 }],
    });
    for (let i = 1; i <= 4; i++) expect((await trail.record(sampleDecision(i))).ok).toBe(true);
    // A health-data decision: its object is kept 36 months.
    expect((await trail.record(sampleDecision(5, ['pii', 'phi']))).ok).toBe(true);
    await trail.close();
  }, 60_000);

  it('writes the trail as objects keyed by instance and seq range, and reads it back in order', async () => {
    const keys = await listTrailObjects({ client: s3.client, bucket, prefix, instance });
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const k of keys) expect(k).toMatch(/^trails\/authorizer-0\/\d{16}-\d{16}\.jsonl$/);
    const lines = await collect(readTrailFromS3({ client: s3.client, bucket, prefix, instance }));
    expect(lines).toEqual(fileLines(file));
    expect(chainBreak(lines)).toBeUndefined();
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'open', seq: 0 });
  });

  it('kubectl mcp audit verify and show read the chain from the bucket (--s3 s3://BUCKET/PREFIX/INSTANCE) with the reader\'s own credentials', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const uri = `s3://${bucket}/${prefix}${instance}`;
    try {
      process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
      const verify = await cli('audit', 'verify', '--s3', uri, '--s3-endpoint', s3.endpoint, '-o', 'json');
      expect(verify.code).toBe(0);
      expect(JSON.parse(verify.out)).toMatchObject({ ok: true });
      const show = await cli('audit', 'show', '--s3', uri, '--s3-endpoint', s3.endpoint, '-o', 'json');
      expect(show.code).toBe(0);
      expect((JSON.parse(show.out) as Array<{ seq: number }>).map((r) => r.seq)).toContain(5);
      // An instance with no objects is no trail; a malformed URI is named.
      expect((await cli('audit', 'verify', '--s3', `s3://${bucket}/${prefix}nobody`, '--s3-endpoint', s3.endpoint)).code).not.toBe(0);
      const malformed = await cli('audit', 'verify', '--s3', 's3://x');
      expect(malformed.code).not.toBe(0);
      expect(malformed.err).toContain('s3://BUCKET/PREFIX/INSTANCE');
      // Wrong credentials read nothing.
      process.env.AWS_SECRET_ACCESS_KEY = 'wrong';
      expect((await cli('audit', 'verify', '--s3', uri, '--s3-endpoint', s3.endpoint)).code).not.toBe(0);
    } finally {
      for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 60_000);

  it('locks every object in COMPLIANCE mode, 12 months out, 36 for the object holding a health-data record', async () => {
    const keys = await listTrailObjects({ client: s3.client, bucket, prefix, instance });
    const retention = await Promise.all(keys.map(async (Key) => (await s3.client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key }))).Retention));
    for (const r of retention) expect(r?.Mode).toBe('COMPLIANCE');
    const until = retention.map((r) => r?.RetainUntilDate?.toISOString());
    const health = keys.findIndex((k) => /0000000000000005\.jsonl$/.test(k));
    expect(health).toBeGreaterThanOrEqual(0);
    until.forEach((u, i) => expect(u).toBe((i === health ? addMonths(now, 36) : addMonths(now, 12)).toISOString()));
  });

  it('refuses to delete a locked version or shorten its retention, even with the governance bypass; an overwrite leaves it unchanged', async () => {
    const [Key] = await listTrailObjects({ client: s3.client, bucket, prefix, instance });
    const versions = await s3.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: Key }));
    const locked = versions.Versions!.find((v) => v.Key === Key)!;
    const original = await (await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key, VersionId: locked.VersionId }))).Body!.transformToString();

    await expect(s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key, VersionId: locked.VersionId }))).rejects.toThrow(/object lock/i);
    await expect(s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key, VersionId: locked.VersionId, BypassGovernanceRetention: true }))).rejects.toThrow(/object lock|denied/i);
    await expect(s3.client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key, VersionId: locked.VersionId, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 60_000) } }))).rejects.toThrow(/object lock|denied|retention/i);

    // Overwrite: S3 keeps it as a new version; the locked one is still there, byte for byte.
    const forged = Buffer.from('{"type":"decision","forged":true}\n');
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: forged, ContentMD5: createHash('md5').update(forged).digest('base64') }));
    // Delete without a version: only a delete marker.
    await s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    const still = await (await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key, VersionId: locked.VersionId }))).Body!.transformToString();
    expect(still).toBe(original);
    const after = await s3.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: Key }));
    expect(after.Versions!.map((v) => v.VersionId)).toContain(locked.VersionId);
    expect(after.DeleteMarkers?.length).toBeGreaterThan(0);
  });

  it('GOVERNANCE mode is configurable and recorded on the object', async () => {
    const sink = sinkFor('authorizer-gov', 'GOVERNANCE');
    await sink.write([JSON.stringify({ type: 'decision', seq: 7, labels: [] })]);
    const [Key] = await listTrailObjects({ client: s3.client, bucket, prefix, instance: 'authorizer-gov' });
    const r = await s3.client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key }));
    expect(r.Retention?.Mode).toBe('GOVERNANCE');
  });

  it('reads each seq once when a retried batch left overlapping objects', async () => {
    const sink = sinkFor('authorizer-retry');
    const ls = [0, 1, 2, 3].map((seq) => JSON.stringify({ type: 'decision', seq, labels: [] }));
    await sink.write(ls.slice(0, 2));
    await sink.write(ls.slice(0, 2)); // the same batch again (its answer was lost)
    await sink.write(ls.slice(1, 4)); // a later batch overlapping it
    const lines = await collect(readTrailFromS3({ client: s3.client, bucket, prefix, instance: 'authorizer-retry' }));
    expect(lines).toEqual(ls);
  });
});

describe('S3 audit sink, store down', () => {
  it('required: the decisions are refused while the store cannot be reached', async () => {
    const other = await startVersitygw();
    await other.client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    const trail = await AuditTrail.open({
      file: join(dir, 'down', 'audit.jsonl'), log, fsync: false, sinkCloseTimeoutMs: 100,
      sinks: [{ sink: new S3Sink({ client: other.client, bucket, prefix, instance: 'x', mode: 'COMPLIANCE' }), mode: 'required', maxLines: 100, maxBytes: 1 << 20, timeoutMs: 5000, backoff: { initialMs: 5, maxMs: 50 } }],
    });
    expect((await trail.record(sampleDecision(1))).ok).toBe(true);
    await other.stop();
    const r = await trail.record(sampleDecision(2));
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/audit sink s3 is down: PutObject s3:\/\/toolgate-audit\/trails\/x\//) });
    await trail.close();
  }, 60_000);
});
