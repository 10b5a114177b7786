import { describe, expect, it } from 'vitest';
import { isProxyTaskId, proxyTaskIdPrefix, TaskLimitError, TaskStore } from './store.ts';

const alice = { session: 's1', caller: '["iss","alice","agent-1"]' };
const mallory = { session: 's1', caller: '["iss","mallory","agent-1"]' };
const aliceElsewhere = { session: 's2', caller: alice.caller };

function clock(start = Date.parse('2026-12-02T00:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TaskStore', () => {
  it('issues prefixed ids of 192 random bits, all distinct, starting in working', () => {
    const store = new TaskStore({ maxPerSession: 1000 });
    const ids = Array.from({ length: 200 }, () => store.create(alice, undefined).taskId);
    expect(new Set(ids).size).toBe(200);
    for (const id of ids) {
      expect(isProxyTaskId(id)).toBe(true);
      expect(Buffer.from(id.slice(proxyTaskIdPrefix.length), 'base64url').length).toBe(24);
    }
    expect(store.get(ids[0], alice)).toMatchObject({ taskId: ids[0], status: 'working', ttl: 3_600_000, pollInterval: 2_000 });
  });

  it('finds a task only for its session and caller: anyone else gets what an unknown id gets', () => {
    const store = new TaskStore();
    const { taskId } = store.create(alice, 60_000);
    expect(store.get(taskId, alice)?.taskId).toBe(taskId);
    expect(store.get(taskId, mallory)).toBeUndefined();
    expect(store.get(taskId, aliceElsewhere)).toBeUndefined();
    expect(store.get(`${proxyTaskIdPrefix}nope`, alice)).toBeUndefined();
    expect(store.cancel(taskId, mallory, 'x')).toBeUndefined();
    expect(store.get(taskId, alice)?.status).toBe('working');
    expect(store.list(mallory)).toEqual([]);
    expect(store.list(alice).map((t) => t.taskId)).toEqual([taskId]);
  });

  it('honours a requested ttl up to the maximum, and forgets a task once it elapsed', async () => {
    const c = clock();
    const store = new TaskStore({ now: c.now, maxTtlMs: 10_000 });
    const short = store.create(alice, 1_000);
    const long = store.create(alice, 999_999);
    expect(store.get(short.taskId, alice)?.ttl).toBe(1_000);
    expect(store.get(long.taskId, alice)?.ttl).toBe(10_000);
    const waiting = store.outcome(short.taskId, alice);
    c.advance(1_000);
    expect(store.get(short.taskId, alice)).toBeUndefined();
    expect(short.signal.aborted).toBe(true);
    // A tasks/result that was waiting is answered with the expiry, not left hanging.
    expect((await waiting)?.outcome).toMatchObject({ error: { message: expect.stringContaining('expired') } });
    expect(store.get(long.taskId, alice)).toBeDefined();
  });

  it('keeps the first end: a cancelled task stays cancelled, a completed one cannot be cancelled', async () => {
    const c = clock();
    const store = new TaskStore({ now: c.now });
    const a = store.create(alice, undefined);
    c.advance(5);
    const cancelled = store.cancel(a.taskId, alice, 'by request');
    expect(cancelled).toMatchObject({ task: { status: 'cancelled', statusMessage: 'by request' } });
    expect(a.signal.aborted).toBe(true);
    store.finish(a.taskId, 'completed', 'done', { result: { content: [] } });
    expect(store.get(a.taskId, alice)?.status).toBe('cancelled');
    expect((await store.outcome(a.taskId, alice))?.outcome).toMatchObject({ error: { code: -32603 } });

    const b = store.create(alice, undefined);
    store.finish(b.taskId, 'completed', 'done', { result: { content: [{ type: 'text', text: 'hi' }] } });
    expect(store.cancel(b.taskId, alice, 'late')).toEqual({ error: expect.stringContaining('already completed') });
    store.update(b.taskId, 'working', 'again');
    expect(store.get(b.taskId, alice)).toMatchObject({ status: 'completed', statusMessage: 'done' });
  });

  it('tasks/result waits until the task ends, and gives what it ended with', async () => {
    const c = clock();
    const store = new TaskStore({ now: c.now });
    const { taskId } = store.create(alice, undefined);
    let ended = false;
    const waiting = store.outcome(taskId, alice).then((r) => ((ended = true), r));
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    c.advance(10);
    store.finish(taskId, 'failed', 'denied by bob', { error: { code: -31007, message: 'denied by bob' } });
    const r = await waiting;
    expect(r?.task).toMatchObject({ status: 'failed', statusMessage: 'denied by bob' });
    expect(r?.task.lastUpdatedAt).not.toBe(r?.task.createdAt);
    expect(r?.outcome).toEqual({ error: { code: -31007, message: 'denied by bob' } });
  });

  it('a waiting tasks/result stops when its client goes away', async () => {
    const store = new TaskStore();
    const { taskId } = store.create(alice, undefined);
    const gone = new AbortController();
    const waiting = store.outcome(taskId, alice, gone.signal);
    gone.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(store.get(taskId, alice)?.status).toBe('working');
  });

  it('bounds the running tasks of one session, forgets its oldest ended ones, and drops them all when the session ends', () => {
    const store = new TaskStore({ maxPerSession: 2, maxFinishedPerSession: 1 });
    const a = store.create(alice, undefined);
    const b = store.create(alice, undefined);
    expect(() => store.create(alice, undefined)).toThrow(TaskLimitError);
    store.finish(b.taskId, 'completed', 'done', { result: {} });
    const c = store.create(alice, undefined);
    expect(store.get(b.taskId, alice)?.status).toBe('completed');
    store.finish(c.taskId, 'completed', 'done', { result: {} });
    store.create(alice, undefined);
    // Only one ended task is kept: the older (b) went, the newer (c) stays.
    expect(store.get(b.taskId, alice)).toBeUndefined();
    expect(store.get(c.taskId, alice)?.status).toBe('completed');
    expect(() => store.create(alice, undefined)).toThrow(TaskLimitError);
    const other = store.create(aliceElsewhere, undefined);
    store.dropSession('s1');
    expect(a.signal.aborted).toBe(true);
    expect(store.list(alice)).toEqual([]);
    expect(store.get(other.taskId, aliceElsewhere)).toBeDefined();
    // What the session store asks before ending a session for room: s1 holds nothing now, s2 a task.
    expect(store.holds('s1')).toBe(false);
    expect(store.holds('s2')).toBe(true);
  });

  it('says a session holds work while it has a task, running or ended, until the task is forgotten', async () => {
    const c = clock();
    const store = new TaskStore({ now: c.now });
    expect(store.holds('s1')).toBe(false);
    const { taskId } = store.create(alice, 1_000);
    expect(store.holds('s1')).toBe(true);
    store.finish(taskId, 'completed', 'done', { result: {} });
    expect(store.holds('s1')).toBe(true);
    c.advance(1_001);
    expect(store.get(taskId, alice)).toBeUndefined();
    expect(store.holds('s1')).toBe(false);
  });
});
