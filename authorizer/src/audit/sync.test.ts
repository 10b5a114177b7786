// When the trail fdatasyncs: before a record a call waits on is reported written, and for the
// others with the next such batch or within syncWithinMs — never later, never skipped — and a
// failed deferred sync stops the trail (fail closed), since the records it covered were already
// reported written. The spy wraps the real FileHandle.datasync on a real file.
import { mkdtempSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DecisionRecord } from '../gate/decision-path.ts';
import type { Verdict } from '../gate/types.ts';
import { AuditTrail } from './index.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'toolgate-audit-sync-'));
let n = 0;
const fresh = () => join(dir, `trail-${++n}.jsonl`);

function decision(i: number, effect: Verdict['effect']): DecisionRecord {
  const action = effect === 'proceed' ? 'allow' : effect === 'deny' ? 'deny' : 'require_approval';
  return {
    durationMs: 0.1,
    call: { server: 'gmail', tool: 'read_email', arguments: { id: String(i) }, frontEnd: 'proxy', sessionId: 's-1', requestId: i, caller: { subject: 'alice', issuer: 'https://issuer.test', roles: ['reader'], scopes: [] } },
    verdict: { decisionId: `d-${i}`, revision: 'rev-1', effect, decision: { action, rule: 'r', reasons: [], labels: [], annotations: {}, verb: 'get', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } } },
  };
}
const response = (i: number) => ({ decisionId: `d-${i}`, server: 'gmail', tool: 'read_email', status: 'success' as const, summary: 'ok' });

// Every datasync of every FileHandle, in order with the settlements the test logs.
let events: string[] = [];
let failNext = 0;
beforeAll(async () => {
  const probe = await open(join(dir, 'probe'), 'a');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const real = proto.datasync;
  vi.spyOn(proto, 'datasync').mockImplementation(function (this: unknown) {
    if (failNext > 0) {
      failNext--;
      events.push('sync-failed');
      return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    }
    events.push('sync');
    return real.call(this);
  });
});
afterEach(() => {
  events = [];
  failNext = 0;
});
const syncs = () => events.filter((e) => e === 'sync').length;

describe('AuditTrail fdatasync', () => {
  it('syncs a decision that lets a call proceed or holds it before reporting it written', async () => {
    const trail = await AuditTrail.open({ file: fresh(), log, syncWithinMs: 60_000 });
    events = [];
    for (const [i, effect] of [[1, 'proceed'], [2, 'hold']] as const) {
      const written = await trail.record(decision(i, effect));
      events.push(`settled ${i}`);
      expect(written).toEqual({ ok: true });
    }
    expect(events).toEqual(['sync', 'settled 1', 'sync', 'settled 2']);
    await trail.close();
  });

  it('reports denials, refusals and responses written without a sync, then syncs them within syncWithinMs', async () => {
    const file = fresh();
    const trail = await AuditTrail.open({ file, log, syncWithinMs: 50 });
    events = [];
    expect(await trail.record(decision(1, 'deny'))).toEqual({ ok: true });
    expect(await trail.recordResponse(response(2))).toEqual({ ok: true });
    trail.recordRefusal({ frontEnd: 'proxy', stage: 'transport', httpMethod: 'PUT', httpStatus: 405, code: -32000, reason: 'HTTP method PUT is not part of MCP Streamable HTTP' });
    await trail.flush();
    // All three are in the file, none synced yet.
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);
    expect(syncs()).toBe(0);
    await vi.waitFor(() => expect(syncs()).toBe(1), { timeout: 2000, interval: 10 });
    // Nothing new written: the timer does not sync again.
    await new Promise((r) => setTimeout(r, 150));
    expect(syncs()).toBe(1);
    await trail.close();
  });

  it('a sequential caller waits for one sync per call: its response record rides its next decision\'s', async () => {
    const trail = await AuditTrail.open({ file: fresh(), log, syncWithinMs: 60_000 });
    events = [];
    for (let i = 1; i <= 20; i++) {
      await trail.record(decision(i, 'proceed'));
      await trail.recordResponse(response(i));
    }
    // 20 decisions synced before their calls; the responses went with the next decision's sync.
    expect(syncs()).toBe(20);
    // close() syncs what the last response left unsynced.
    await trail.close();
    expect(syncs()).toBe(21);
  });

  it('a failed deferred sync stops the trail: the next decision is reported lost, not written', async () => {
    const trail = await AuditTrail.open({ file: fresh(), log, syncWithinMs: 20 });
    events = [];
    expect(await trail.record(decision(1, 'deny'))).toEqual({ ok: true });
    failNext = 1;
    await vi.waitFor(() => expect(events).toContain('sync-failed'), { timeout: 2000, interval: 10 });
    await trail.flush();
    expect(trail.broken).toMatch(/fdatasync failed \(EIO: i\/o error, fdatasync\) with records written since the last sync/);
    const next = await trail.record(decision(2, 'proceed'));
    expect(next.ok).toBe(false);
    expect(next.ok ? '' : next.reason).toMatch(/fdatasync failed/);
    await trail.close();
  });

  it('a failed sync of a durable batch with earlier records unsynced also stops the trail', async () => {
    const trail = await AuditTrail.open({ file: fresh(), log, syncWithinMs: 60_000 });
    await trail.record(decision(1, 'deny'));
    failNext = 1;
    const failed = await trail.record(decision(2, 'proceed'));
    expect(failed.ok).toBe(false);
    expect(trail.broken).toMatch(/fdatasync failed/);
    expect((await trail.record(decision(3, 'proceed'))).ok).toBe(false);
    await trail.close();
  });

  it('a failed sync before a rotation, with records unsynced, stops the trail before the batch that was due', async () => {
    const trail = await AuditTrail.open({ file: fresh(), log, syncWithinMs: 60_000, rotation: { maxBytes: 1, daily: false }, retentionSweepMs: 0 });
    await trail.record(decision(1, 'deny'));
    failNext = 1;
    // This batch rotates first; the rotation's sync fails with the denial unsynced.
    const next = await trail.record(decision(2, 'proceed'));
    expect(events).toContain('sync-failed');
    expect(next.ok).toBe(false);
    expect(trail.broken).toMatch(/fdatasync failed/);
    await trail.close();
  });

  it('with fsync off nothing is synced, however the records are awaited', async () => {
    const trail = await AuditTrail.open({ file: fresh(), log, fsync: false, syncWithinMs: 10 });
    events = [];
    await trail.record(decision(1, 'proceed'));
    await trail.record(decision(2, 'deny'));
    await new Promise((r) => setTimeout(r, 60));
    expect(syncs()).toBe(0);
    await trail.close();
  });
});
