import { describe, expect, it } from 'vitest';
import { closedLoop, mixKind, paced, Tally } from './traffic.ts';

describe('the soak call mix and pacing', () => {
  it('mixes 60 % allowed and 40 % denied in a fixed order', () => {
    const kinds = Array.from({ length: 100 }, (_, i) => mixKind(i));
    expect(kinds.filter((k) => k === 'allow')).toHaveLength(60);
    expect(kinds.slice(0, 5)).toEqual(['allow', 'deny', 'allow', 'allow', 'deny']);
  });

  it('tallies outcomes and errors, folding digits out of error reasons and keeping the first message', () => {
    const t = new Tally();
    t.ok('proxy', 'allow');
    t.ok('proxy', 'allow');
    t.error('extauthz', 'deny', 'grpc: 14 UNAVAILABLE: port 4242', 'first');
    t.error('extauthz', 'deny', 'grpc: 14 UNAVAILABLE: port 4343', 'second');
    expect(t.calls).toEqual({ 'proxy:allow': 2 });
    expect(t.errors).toEqual({ 'extauthz:deny:grpc: N UNAVAILABLE: port N': 2 });
    expect(t.firstError['extauthz:deny:grpc: N UNAVAILABLE: port N']).toBe('first');
    expect(t.errorCount).toBe(2);
    expect(t.callCount).toBe(2);
    expect(t.errorsByMinute).toEqual([2]);
  });

  it('paced: starts calls on schedule, skips (and counts) those beyond the in-flight cap', async () => {
    let running = 0;
    let most = 0;
    // Calls that never finish before the end: only `maxInFlight` may start.
    const stuck = await paced(1000, 100, 3, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
    });
    expect(stuck.started).toBe(3);
    expect(most).toBe(3);
    expect(stuck.skipped).toBeGreaterThan(0);
    const quick = await paced(200, 100, 10, async () => undefined);
    expect(quick.skipped).toBe(0);
    expect(quick.started).toBeGreaterThan(0);
    expect(quick.started).toBeLessThanOrEqual(20);
  });

  it('closedLoop: runs `concurrency` calls at a time, each index once', async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    const n = await closedLoop(4, 50, async (i) => {
      seen.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    });
    expect(n).toBe(seen.length);
    expect(new Set(seen).size).toBe(seen.length);
    expect(most).toBe(4);
  });
});
