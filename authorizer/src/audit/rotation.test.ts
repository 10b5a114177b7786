// Rotation and retention of the audit file (rotation.ts): pure checks of what expires and when,
// then the real trail on real files with a fake clock — rotated daily and by size, rotated files
// deleted at the end of their retention (12 months; 36 with a health-data label) each after an
// expiry record, the files that remain verifying as one chain with the expiries shown, and a
// file deleted any other way found.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../gate/decision-path.ts';
import { signerFromPem, trustedKeysFromPem, type CheckpointSigner, type TrustedKeys } from './checkpoint.ts';
import { expiredSegments, rotatedFileSource, rotatedFiles, rotationDue, segmentInfo, segmentPath, type SegmentInfo } from './rotation.ts';
import { eraseSubjects } from './erase.ts';
import { AuditTrail } from './trail.ts';
import { verifyTrail } from './verify.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-rotation-'));
let n = 0;
const fresh = () => join(mkdtempSync(join(dir, `t${++n}-`)), 'audit.jsonl');

function decision(i: number, labels: string[] = []): DecisionRecord {
  return {
    durationMs: 0.1,
    call: { server: 'crm', tool: 'get_contact', arguments: { id: String(i) }, frontEnd: 'proxy', caller: { agent: 'agent-7', operator: 'alice@example.com', subject: 'alice@example.com', issuer: 'https://issuer.test', roles: [], scopes: [] } },
    verdict: {
      decisionId: `d-${i}`, revision: 'rev-1', effect: 'proceed',
      decision: { action: 'allow', rule: 'read', reasons: [], labels, annotations: {}, verb: 'get', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } },
    },
  };
}

let signer: CheckpointSigner;
let keys: TrustedKeys;
beforeAll(async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  signer = await signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'test key');
  keys = await trustedKeysFromPem([{ pem: publicKey.export({ type: 'spki', format: 'pem' }) as string, what: 'test public key' }]);
});

/** A clock the test moves. */
function clock(iso: string) {
  let t = new Date(iso);
  return { now: () => new Date(t), set: (next: string) => { t = new Date(next); } };
}

const info = (first: number, last: number, keptUntil: string): SegmentInfo => ({ path: `f.${first}`, first, last, lastHash: 'a'.repeat(64), lines: last - first + 1, keptUntil: new Date(keptUntil) });

describe('what expires', () => {
  it('the oldest rotated files past their retention, stopping at the first that must stay or cannot be read', () => {
    const now = new Date('2027-06-01T00:00:00Z');
    const a = info(0, 9, '2027-01-01T00:00:00Z');
    const b = info(10, 19, '2027-05-31T23:59:59Z');
    const long = info(20, 29, '2029-05-01T00:00:00Z');
    const c = info(30, 39, '2027-02-01T00:00:00Z');
    expect(expiredSegments([a, b, long, c], now)).toEqual([a, b]);
    // c is past its retention, but deleting it would leave a hole in the chain before it.
    expect(expiredSegments([long, c], now)).toEqual([]);
    expect(expiredSegments([a, undefined, c], now)).toEqual([a]);
    expect(expiredSegments([info(0, 1, '2027-06-01T00:00:00Z')], now)).toHaveLength(1);
  });

  it('rotates at the size limit or on a new UTC day, never an empty file', () => {
    const now = new Date('2027-03-02T00:00:01Z');
    expect(rotationDue({ size: 100, firstLineDay: '2027-03-02', now, settings: { maxBytes: 100 } })).toBe(true);
    expect(rotationDue({ size: 99, firstLineDay: '2027-03-02', now, settings: { maxBytes: 100 } })).toBe(false);
    expect(rotationDue({ size: 99, firstLineDay: '2027-03-01', now, settings: { maxBytes: 100 } })).toBe(true);
    expect(rotationDue({ size: 99, firstLineDay: '2027-03-01', now, settings: { maxBytes: 100, daily: false } })).toBe(false);
    expect(rotationDue({ size: 0, firstLineDay: '2027-03-01', now, settings: { maxBytes: 1 } })).toBe(false);
  });

  it('keeps a file 12 months after its last line, 36 when any line carries a health-data label', async () => {
    const c = clock('2027-01-10T10:00:00Z');
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, now: c.now, rotation: { daily: true }, retentionSweepMs: 0 });
    await trail.record(decision(1));
    c.set('2027-01-11T10:00:00Z');
    await trail.record(decision(2, ['data:health-data', 'health-data']));
    c.set('2027-01-12T10:00:00Z');
    await trail.record(decision(3));
    await trail.close();
    const [first, second] = await rotatedFiles(file);
    expect(await segmentInfo(first!)).toMatchObject({ first: 0, last: 1, lines: 2, keptUntil: new Date('2028-01-10T10:00:00Z') });
    expect(await segmentInfo(second!)).toMatchObject({ first: 2, last: 2, lines: 1, keptUntil: new Date('2030-01-11T10:00:00Z') });
  });
});

describe('the rotated trail on disk', () => {
  it('rotates daily and by size; the files read as one chain that verifies to its checkpoint', async () => {
    const c = clock('2027-01-10T10:00:00Z');
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, now: c.now, signer, checkpointEvery: 1000, instance: 'authorizer-0', rotation: { maxBytes: 4000, daily: true }, retentionSweepMs: 0 });
    for (let i = 1; i <= 3; i++) await trail.record(decision(i));
    c.set('2027-01-11T00:00:01Z');
    for (let i = 4; i <= 12; i++) await trail.record(decision(i));
    await trail.close();
    const rotated = await rotatedFiles(file);
    // Day one (open line + 3 records), then size-bound files of day two, then the active file.
    expect(rotated[0]).toBe(segmentPath(file, 0));
    expect(rotated.length).toBeGreaterThanOrEqual(2);
    expect(readFileSync(rotated[0]!, 'utf8').split('\n').slice(0, -1)).toHaveLength(4);
    for (const f of rotated.slice(1)) expect(readFileSync(f, 'utf8').length).toBeLessThan(4000 + 2000);
    await expect(trail.metrics.rotations.get()).resolves.toMatchObject({ values: [{ value: rotated.length }] });
    const r = await verifyTrail(rotatedFileSource(file), { keys });
    expect(r).toMatchObject({ ok: true, records: 12, from: 0, expired: [], checkpoint: { index: 1 }, unsealed: 0 });
  });

  it('deletes a rotated file at the end of its retention after an expiry record naming it, and verify still says intact, showing the expiry', async () => {
    const c = clock('2027-01-10T10:00:00Z');
    const file = fresh();
    const open = () => AuditTrail.open({ file, log, fsync: false, now: c.now, signer, instance: 'authorizer-0', rotation: { daily: true }, retentionSweepMs: 0 });
    let trail = await open();
    await trail.record(decision(1));
    await trail.record(decision(2));
    c.set('2027-01-11T10:00:00Z');
    await trail.record(decision(3, ['health-data']));
    c.set('2027-01-12T10:00:00Z');
    await trail.record(decision(4));
    await trail.close();
    const [day1, day2] = await rotatedFiles(file);
    const day1Info = (await segmentInfo(day1!))!;

    // 12 months and a day later (a restart in between): day one goes, day two (health data) stays.
    c.set('2028-01-11T10:00:01Z');
    trail = await open();
    expect(await trail.sweepRetention()).toEqual([day1]);
    await trail.record(decision(5));
    await trail.close();
    expect(existsSync(day1!)).toBe(false);
    expect(existsSync(day2!)).toBe(true);
    const all = (await Promise.all([...(await rotatedFiles(file)), file].map(async (f) => readFileSync(f, 'utf8')))).join('').split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    const expiry = all.find((l) => l.type === 'expiry');
    expect(expiry).toMatchObject({ file: basename(day1!), seqs: [day1Info.first, day1Info.last], lastHash: day1Info.lastHash, lines: day1Info.lines, keptUntil: '2028-01-10T10:00:00.000Z', instance: 'authorizer-0' });
    await expect(trail.metrics.expired.get()).resolves.toMatchObject({ values: [{ value: 1 }] });

    const r = await verifyTrail(rotatedFileSource(file), { keys });
    expect(r).toMatchObject({ ok: true, from: day1Info.last + 1, expired: [{ file: basename(day1!), seqs: [day1Info.first, day1Info.last] }] });
    if (r.ok) expect(r.summary).toMatch(/^from seq \d+ \(seqs 0–\d+ expired: 1 file deleted at the end of retention, each recorded\); intact to checkpoint/);

    // The health-data file goes only after 36 months.
    c.set('2029-06-01T00:00:00Z');
    trail = await open();
    expect(await trail.sweepRetention()).toEqual([]);
    c.set('2030-01-11T10:00:01Z');
    // With it the file after it (day three, rotated when the first sweep wrote its expiry record), long expired.
    const later = await trail.sweepRetention();
    expect(later).toEqual([day2, segmentPath(file, 4)]);
    await trail.close();
    expect(await verifyTrail(rotatedFileSource(file), { keys })).toMatchObject({ ok: true, expired: [{ file: basename(day1!) }, { file: basename(day2!) }, { file: basename(later[1]!) }] });
  });

  it('finds a rotated file deleted without an expiry record: the oldest (head removed) or one in the middle (records missing)', async () => {
    const c = clock('2027-01-10T10:00:00Z');
    const make = async () => {
      c.set('2027-01-10T10:00:00Z');
      const file = fresh();
      const trail = await AuditTrail.open({ file, log, fsync: false, now: c.now, rotation: { daily: true }, retentionSweepMs: 0 });
      for (const day of ['2027-01-10', '2027-01-11', '2027-01-12', '2027-01-13']) {
        c.set(`${day}T10:00:00Z`);
        await trail.record(decision(1));
      }
      await trail.close();
      return { file, rotated: await rotatedFiles(file) };
    };
    const head = await make();
    rmSync(head.rotated[0]!);
    expect(await verifyTrail(rotatedFileSource(head.file))).toMatchObject({ ok: false, kind: 'deleted', summary: expect.stringContaining('no expiry record names the file that ended at seq 1') });
    const middle = await make();
    rmSync(middle.rotated[1]!);
    expect(await verifyTrail(rotatedFileSource(middle.file))).toMatchObject({ ok: false, kind: 'deleted', seq: 3, summary: expect.stringContaining('record 2 is missing') });
  });

  it('continues the chain after a restart between a rotation and the next line', async () => {
    const c = clock('2027-01-10T10:00:00Z');
    const file = fresh();
    const open = () => AuditTrail.open({ file, log, fsync: false, now: c.now, rotation: { maxBytes: 1 }, retentionSweepMs: 0 });
    let trail = await open();
    await trail.record(decision(1));
    await trail.record(decision(2));
    await trail.close();
    expect(readdirSync(join(file, '..')).length).toBeGreaterThanOrEqual(2);
    trail = await open();
    expect(trail.head.seq).toBe(2);
    await trail.record(decision(3));
    await trail.close();
    expect(await verifyTrail(rotatedFileSource(file))).toMatchObject({ ok: true, records: 3 });
  });
});

describe('erasure across rotated files', () => {
  it('erases a subject from every file of the trail, chains one erasure after the last line, and the files still verify as one chain', async () => {
    const c = clock('2027-01-10T10:00:00Z');
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, now: c.now, rotation: { daily: true }, retentionSweepMs: 0 });
    await trail.record(decision(1));
    c.set('2027-01-11T10:00:00Z');
    await trail.record(decision(2));
    c.set('2027-01-12T10:00:00Z');
    await trail.record(decision(3));
    await trail.close();
    const files = [...(await rotatedFiles(file)), file];
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files.every((f) => readFileSync(f, 'utf8').includes('alice@example.com'))).toBe(true);

    const r = await eraseSubjects(file, ['alice@example.com']);
    expect(r.replaced).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(readFileSync(f, 'utf8')).not.toContain('alice@example.com');
    const v = await verifyTrail(rotatedFileSource(file));
    expect(v).toMatchObject({ ok: true });
    const erasures = readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"type":"erasure"'));
    expect(erasures).toHaveLength(1);
    expect(files.slice(0, -1).every((f) => !readFileSync(f, 'utf8').includes('"type":"erasure"'))).toBe(true);
    expect(readdirSync(join(file, '..')).filter((n) => n.includes('.erase-'))).toEqual([]);
  });
});
