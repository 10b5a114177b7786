// The sealed chain: signed checkpoints, the verifier's exact report for each way of tampering
// (edited, deleted, inserted, reordered, truncated, forged), erasure by pseudonym that keeps
// the chain verifiable, and version 1 trails still read.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { canonicalJson, contentHash } from '../../../pkg/json/canonical.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import { signerFromPem, trustedKeysFromPem, type CheckpointSigner, type TrustedKeys } from './checkpoint.ts';
import { eraseSubjects } from './erase.ts';
import { AuditTrail } from './trail.ts';
import { hashOf } from './record.ts';
import { verifyAuditFile } from './verify.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-seal-'));
let n = 0;
const fresh = () => join(dir, `t${++n}.jsonl`);
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const rewrite = (file: string, ls: string[]) => writeFileSync(file, ls.map((l) => `${l}\n`).join(''));

function pemPair(kind: 'ec' | 'ed25519') {
  const { privateKey, publicKey } = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pub: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

function decision(i: number, who = { agent: 'agent-7', operator: 'alice@example.com', subject: 'alice@example.com' }): DecisionRecord {
  return {
    durationMs: 0.1,
    call: { server: 'crm', tool: 'get_contact', arguments: { id: String(i) }, frontEnd: 'proxy', caller: { ...who, issuer: 'https://issuer.test', roles: ['sales'], scopes: ['crm:read'] } },
    verdict: {
      decisionId: `d-${i}`, revision: 'rev-1', effect: 'proceed',
      decision: { action: 'allow', rule: 'read', reasons: [], labels: [], annotations: {}, verb: 'get', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } },
    },
  };
}

let signer: CheckpointSigner;
let keys: TrustedKeys;
let other: CheckpointSigner;

beforeAll(async () => {
  const k = pemPair('ec');
  signer = await signerFromPem(k.priv, 'test key');
  keys = await trustedKeysFromPem([{ pem: k.pub, what: 'test public key' }]);
  other = await signerFromPem(pemPair('ec').priv, 'other key');
});

/** 25 records, checkpoints after 10 and 20 and on close: 29 lines (open, seq 1-28). Checkpoint 1 is seq 11, 2 is seq 22, 3 is seq 28. */
async function sealed(file = fresh(), s: CheckpointSigner = signer): Promise<string> {
  const trail = await AuditTrail.open({ file, log, fsync: false, signer: s, checkpointEvery: 10, instance: 'authorizer-0' });
  for (let i = 1; i <= 25; i++) trail.record(decision(i));
  await trail.close();
  return file;
}

describe('checkpoints', () => {
  it('seal the chain every N records and on close; verify says intact to checkpoint N (seq S)', async () => {
    const file = await sealed();
    const cps = lines(file).map((l) => JSON.parse(l) as { type: string; seq: number; index?: number }).filter((l) => l.type === 'checkpoint');
    expect(cps.map((c) => [c.index, c.seq])).toEqual([[1, 11], [2, 22], [3, 28]]);
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: true, records: 25, checkpoint: { index: 3, seq: 28 }, unsealed: 0, signaturesChecked: true, summary: 'intact to checkpoint 3 (seq 28)' });
    const unchecked = await verifyAuditFile(file);
    expect(unchecked).toMatchObject({ ok: true, signaturesChecked: false, summary: expect.stringContaining('signatures NOT checked') });
  });

  it('sign with Ed25519 (EdDSA) too, and refuse an RSA key naming what is accepted', async () => {
    const k = pemPair('ed25519');
    const file = await sealed(fresh(), await signerFromPem(k.priv, 'ed key'));
    expect(await verifyAuditFile(file, { keys: await trustedKeysFromPem([{ pem: k.pub, what: 'ed pub' }]) })).toMatchObject({ ok: true, summary: 'intact to checkpoint 3 (seq 28)' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await expect(signerFromPem(rsa, 'key.pem')).rejects.toThrow(/key\.pem: a rsa key; audit checkpoints are signed with EC P-256 \(ES256\) or Ed25519 \(EdDSA\)/);
  });

  it('continue their numbering and the chain\'s instance after a restart, under another pod name too', async () => {
    const file = await sealed();
    const again = await AuditTrail.open({ file, log, fsync: false, signer, checkpointEvery: 10, instance: 'authorizer-7d9f-x2' });
    again.record(decision(26));
    await again.close();
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: true, checkpoint: { index: 4, seq: 30 }, summary: 'intact to checkpoint 4 (seq 30)' });
  });

  it('report records after the last checkpoint as unsealed', async () => {
    const file = await sealed();
    const ls = lines(file);
    rewrite(file, ls.slice(0, -1)); // drop the closing checkpoint: seq 23-27 follow checkpoint 2
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: true, unsealed: 5, summary: 'intact to checkpoint 2 (seq 22); seq 23–27 after it not sealed (still being written, or cut after it)' });
  });
});

describe('the verifier names the first tampered line and how', () => {
  const tamper = async (edit: (ls: string[]) => string[], expectSeq?: number) => {
    const file = await sealed();
    rewrite(file, edit(lines(file)));
    return verifyAuditFile(file, { keys, ...(expectSeq !== undefined ? { expectSeq } : {}) });
  };

  it('edited', async () => {
    const r = await tamper((ls) => ls.map((l, i) => (i === 16 ? l.replace('"tool":"get_contact"', '"tool":"delete_contact"') : l)));
    expect(r).toMatchObject({ ok: false, line: 17, seq: 16, kind: 'edited', summary: expect.stringMatching(/^line 17 \(seq 16\): edited — hash mismatch/) });
  });

  it('deleted', async () => {
    const r = await tamper((ls) => ls.filter((_, i) => i !== 5 && i !== 6));
    expect(r).toMatchObject({ ok: false, line: 6, seq: 7, kind: 'deleted', summary: 'line 6 (seq 7): deleted — records 5–6 are missing before this line (seq 7 follows seq 4)' });
  });

  it('inserted (a line duplicated)', async () => {
    const r = await tamper((ls) => [...ls.slice(0, 9), ls[8]!, ...ls.slice(9)]);
    expect(r).toMatchObject({ ok: false, line: 10, seq: 8, kind: 'inserted', summary: 'line 10 (seq 8): inserted — seq 8 is repeated (first on line 9): a line was inserted or duplicated' });
  });

  it('inserted (a forged line with a recomputed hash, renumbering nothing)', async () => {
    const r = await tamper((ls) => {
      const prev = JSON.parse(ls[3]!) as { seq: number; hash: string };
      const forged = { ...(JSON.parse(ls[4]!) as Record<string, unknown>), decisionId: 'forged', seq: prev.seq + 1, prev: prev.hash };
      return [...ls.slice(0, 4), canonicalJson({ ...forged, hash: hashOf(forged) }), ...ls.slice(4)];
    });
    expect(r).toMatchObject({ ok: false, line: 6, seq: 4, kind: 'inserted', summary: expect.stringContaining('seq 4 is repeated (first on line 5)') });
  });

  it('reordered', async () => {
    const r = await tamper((ls) => [...ls.slice(0, 3), ls[4]!, ls[3]!, ...ls.slice(5)]);
    expect(r).toMatchObject({ ok: false, line: 4, seq: 4, kind: 'reordered', summary: 'line 4 (seq 4): reordered — seq 4 comes before seq 3 (line 5): lines were reordered' });
  });

  it('truncated after a checkpoint, against the head an independent copy names', async () => {
    const r = await tamper((ls) => ls.slice(0, 23), 28);
    expect(r).toMatchObject({ ok: false, kind: 'truncated', summary: 'truncated after checkpoint 2 (seq 22): records 23–28 are missing' });
  });

  it('truncated mid-write', async () => {
    const file = await sealed();
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, -15));
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: false, line: 29, seq: 28, kind: 'truncated', summary: 'line 29 (seq 28): truncated — cut mid-write — the last line has no newline' });
  });

  it('forged: the whole chain rebuilt after an edit no longer matches its signed checkpoints', async () => {
    const r = await tamper((ls) => {
      let prev = '';
      return ls.map((l, i) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        if (i === 0) { prev = o.genesis as string; return l; }
        if (i === 3) o.action = 'deny';
        o.prev = prev;
        const { hash: _h, personal: _p, ...rest } = o;
        o.hash = contentHash(rest);
        prev = o.hash as string;
        return canonicalJson(o);
      });
    });
    expect(r).toMatchObject({ ok: false, line: 12, seq: 11, kind: 'forged', summary: expect.stringContaining('checkpoint 1: its signature covers another place in the chain') });
  });

  it('forged: checkpoints signed with a key that is not trusted', async () => {
    const file = await sealed(fresh(), other);
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: false, line: 12, seq: 11, kind: 'forged', summary: expect.stringContaining(`signed by key ${other.keyId}, which is not among the trusted keys`) });
  });

  it('edited: a personal value changed in its opening', async () => {
    const r = await tamper((ls) => ls.map((l, i) => (i === 2 ? l.replace('"value":"alice@example.com"', '"value":"mallory@example.com"') : l)));
    expect(r).toMatchObject({ ok: false, line: 3, seq: 2, kind: 'edited', summary: expect.stringContaining('personal value edited — the opening of commit:') });
  });
});

describe('commitments', () => {
  it('are read from the identity fields only: a client sending "commit:<hex>" as an argument does not make the trail look tampered', async () => {
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false });
    const r = decision(1);
    r.call.arguments = { ref: `commit:${'a'.repeat(64)}`, nested: [{ subject: `commit:${'b'.repeat(64)}` }] };
    trail.record(r);
    await trail.close();
    expect(readFileSync(file, 'utf8')).toContain(`commit:${'a'.repeat(64)}`);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 1 });
  });
});

describe('erasure by pseudonym', () => {
  const approval = (user: string): ApprovalRequest => ({
    apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { namespace: 'ns', name: 'ar-1' }, spec: {} as ApprovalRequest['spec'],
    status: { phase: 'Approved', decisions: [{ user, groups: ['sre'], decision: 'approve', time: '2026-11-22T00:00:00Z' }] },
  });

  it('replaces every identifier of a subject, keeps the chain verifiable, records the erasure and tampers nothing else', async () => {
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, fsync: false, signer, checkpointEvery: 3, instance: 'authorizer-0' });
    const bob = { agent: 'agent-9', operator: 'bob@example.org', subject: 'bob-sub-42' };
    for (let i = 1; i <= 6; i++) trail.record(decision(i, i % 2 ? undefined : bob));
    const held = decision(7, bob);
    trail.recordApproval({ mode: 'hold', outcome: { kind: 'released', request: approval('alice@example.com') }, call: held.call, verdict: held.verdict });
    trail.recordRefusal({ frontEnd: 'proxy', stage: 'decision', httpStatus: 200, code: -31001, reason: 'denied', caller: held.call.caller && { ...decision(8).call.caller } });
    await trail.close();
    const before = lines(file);
    expect(before.join('\n')).toContain('alice@example.com');

    const r = await eraseSubjects(file, ['alice@example.com'], { verify: { keys } });
    expect(r).toMatchObject({ replaced: 5, lines: 5, residual: [] });
    const after = lines(file);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('alice@example.com');
    expect(text).not.toContain('alice');
    expect(text).toContain('bob@example.org');
    expect(text.split(r.pseudonym).length - 1).toBe(5 + 1);
    // Only the openings changed, and one erasure line was added.
    expect(after).toHaveLength(before.length + 1);
    for (let i = 0; i < before.length; i++) {
      const { personal: _a, ...a } = JSON.parse(before[i]!) as Record<string, unknown>;
      const { personal: _b, ...b } = JSON.parse(after[i]!) as Record<string, unknown>;
      expect(b, `line ${i + 1}`).toEqual(a);
    }
    expect(JSON.parse(after.at(-1)!)).toMatchObject({ type: 'erasure', pseudonym: r.pseudonym, commitments: expect.arrayContaining([expect.stringMatching(/^commit:/)]) });
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: true, erasures: 1, records: 8 });

    // A pseudonym no erasure line records is a forgery (hiding who acted).
    const forged = readFileSync(file, 'utf8').replace(/\{"salt":"[0-9a-f]{32}","value":"bob@example\.org"\}/, `{"pseudonym":"pseudonym:${'0'.repeat(32)}"}`);
    writeFileSync(file, forged);
    expect(await verifyAuditFile(file, { keys })).toMatchObject({ ok: false, kind: 'forged', summary: expect.stringContaining('no erasure line records that erasure') });
  });

  it('refuses to rewrite a trail that does not verify', async () => {
    const file = await sealed();
    const ls = lines(file);
    rewrite(file, ls.filter((_, i) => i !== 4));
    await expect(eraseSubjects(file, ['alice@example.com'])).rejects.toThrow(/does not verify, so it is not rewritten: line 5 \(seq 5\): deleted/);
    expect(lines(file)).toHaveLength(ls.length - 1);
  });
});

describe('version 1 trails', () => {
  it('still verify, and an edit in one is still found', async () => {
    const open = { type: 'open', version: 1, seq: 0, time: '2026-01-01T00:00:00.000Z', genesis: `genesis:${'1'.repeat(32)}` };
    const o = { ...open, hash: hashOf(open) };
    const body = {
      type: 'decision', time: '2026-01-01T00:00:01.000Z', decisionId: 'd-1', frontEnd: 'proxy', policy: 'ns/p', revision: 'r', server: 's', tool: 't', verb: 'get', labels: [], action: 'allow', rule: 'r', reasons: [],
      caller: { subject: 'alice', issuer: 'i', roles: [] }, argumentsDigest: `sha256:${'2'.repeat(64)}`, arguments: {}, seq: 1, prev: open.genesis,
    };
    const file = fresh();
    rewrite(file, [canonicalJson(o), canonicalJson({ ...body, hash: hashOf(body) })]);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, version: 1, records: 1, summary: 'intact, no checkpoint; seq 1–1 after it not sealed (still being written, or cut after it)' });
    rewrite(file, [canonicalJson(o), canonicalJson({ ...body, hash: hashOf(body) }).replace('"action":"allow"', '"action":"deny"')]);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, line: 2, kind: 'edited' });
  });
});
