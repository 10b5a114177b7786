import { describe, expect, it } from 'vitest';
import { WorkQueue, type WorkQueueEvent } from './workqueue.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('coalesces adds of a queued key into one pass', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const q = new WorkQueue(async (k) => { seen.push(k); if (k === 'busy') await gate; }, { concurrency: 1 });
    q.add('busy');
    q.add('a'); q.add('a'); q.add('b'); q.add('a');
    release();
    await tick();
    await q.idle();
    expect(seen).toEqual(['busy', 'a', 'b']);
  });

  it('never runs one key twice at once, and re-runs once when added while in flight', async () => {
    let running = 0;
    let maxRunning = 0;
    let passes = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const q = new WorkQueue(async () => {
      running++; maxRunning = Math.max(maxRunning, running); passes++;
      if (passes === 1) await gate;
      running--;
    }, { concurrency: 4 });
    q.add('k');
    await tick();
    q.add('k'); q.add('k'); q.add('k');
    release();
    await tick(5);
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(passes).toBe(2);
  });

  it('runs distinct keys in parallel up to the concurrency', async () => {
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue(async () => { running++; maxRunning = Math.max(maxRunning, running); await tick(5); running--; }, { concurrency: 3 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await tick(1);
    await q.idle();
    expect(maxRunning).toBe(3);
  });

  it('retries failures with doubling, capped delays and drops after maxRetries', async () => {
    const events: WorkQueueEvent[] = [];
    let calls = 0;
    const q = new WorkQueue(async () => { calls++; throw new Error('boom'); }, {
      backoff: { initialMs: 1, maxMs: 4, jitter: 0 }, maxRetries: 4, onResult: (e) => events.push(e),
    });
    q.add('x');
    for (let i = 0; i < 50 && !events.some((e) => e.type === 'dropped'); i++) await tick(5);
    const delays = events.filter((e) => e.type === 'retry').map((e) => (e as { delayMs: number }).delayMs);
    expect(delays).toEqual([1, 2, 4, 4]);
    expect(calls).toBe(5);
    expect(events.at(-1)).toMatchObject({ type: 'dropped', key: 'x', attempts: 5 });
  });

  it('jitters retry delays, so keys that failed together do not retry together', async () => {
    const events: WorkQueueEvent[] = [];
    const draws = [0, 0.999999];
    const q = new WorkQueue(async () => { throw new Error('boom'); }, {
      backoff: { initialMs: 1_000, random: () => draws.shift() ?? 0 }, onResult: (e) => events.push(e),
    });
    q.add('a');
    q.add('b');
    await q.idle();
    q.stop();
    expect(events.map((e) => (e as { delayMs: number }).delayMs)).toEqual([1_000, 500]);
  });

  it('resets the failure count after a success', async () => {
    const events: WorkQueueEvent[] = [];
    let fail = true;
    const q = new WorkQueue(async () => { if (fail) { fail = false; throw new Error('once'); } }, {
      backoff: { initialMs: 1 }, onResult: (e) => events.push(e),
    });
    q.add('y');
    for (let i = 0; i < 20 && !events.some((e) => e.type === 'done'); i++) await tick(5);
    fail = true;
    q.add('y');
    for (let i = 0; i < 20 && events.filter((e) => e.type === 'retry').length < 2; i++) await tick(5);
    const retries = events.filter((e) => e.type === 'retry') as Array<{ attempt: number }>;
    expect(retries.map((r) => r.attempt)).toEqual([1, 1]);
  });

  it('addAfter delays a key and an immediate add supersedes it', async () => {
    const seen: number[] = [];
    const q = new WorkQueue(async () => { seen.push(Date.now()); });
    const start = Date.now();
    q.addAfter('z', 40);
    await tick(10);
    expect(seen).toHaveLength(0);
    q.add('z');
    await q.idle();
    expect(seen).toHaveLength(1);
    expect(seen[0]! - start).toBeLessThan(40);
    await tick(50);
    expect(seen).toHaveLength(1);
  });
});
