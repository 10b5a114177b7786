// One caller cannot take every session slot (issue 15's review of the session store): the
// proxy holds at most maxSessionsPerCaller sessions per caller (issuer, subject, agent). At the
// limit the caller's least recently used idle session ends to make room (MCP clients commonly
// go away without DELETE); when all of them are busy the new one is refused with 429 naming the
// limit; concurrent initializes cannot overshoot it; and another caller is never affected.
// Real server-everything upstream, the official SDK v1 client, tokens from the test issuer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawPost, startAllowAllProxy, startEverything, type AllowAllProxy, type EverythingServer } from './proxy-support.ts';

const perCaller = 4;
const total = 6;

let everything: EverythingServer;
let front: AllowAllProxy;

beforeAll(async () => {
  everything = await startEverything();
  // A short resume grace: a client that closed its GET stream leaves its session idle at once.
  front = await startAllowAllProxy([{ name: 'everything', url: everything.url }], { maxSessionsPerCaller: perCaller, maxSessions: total, resumeGraceMs: 100 });
}, 120_000);

afterAll(async () => {
  await front?.close();
  await everything?.close();
});

const initialize = (token: string) => rawPost(front.proxy.url, {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'limits-test', version: '1.0.0' } },
}, { authorization: `Bearer ${token}` });

const listTools = (token: string, session: string) => rawPost(front.proxy.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, {
  authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25',
});

const end = (token: string, session: string) => fetch(front.proxy.url, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': session } });

describe('sessions per caller', () => {
  it('ends the caller\'s least recently used idle session to make room, never another caller\'s', async () => {
    const alice = await front.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const bob = await front.issuer.mint({ sub: 'bob', azp: 'agent-2' });
    const bobRes = await initialize(bob);
    expect(bobRes.status).toBe(200);
    const bobSession = bobRes.headers.get('mcp-session-id')!;
    const opened: string[] = [];
    // Three times the per-caller limit, and more than the store holds in all.
    for (let i = 0; i < 3 * perCaller; i++) {
      const r = await initialize(alice);
      expect(r.status).toBe(200);
      opened.push(r.headers.get('mcp-session-id')!);
      // The first session stays in use, so it is never the least recently used.
      expect((await listTools(alice, opened[0]!)).status).toBe(200);
      expect(front.proxy.sessionCount()).toBeLessThanOrEqual(perCaller + 1);
    }
    // Alice keeps the session she used and her newest; the others ended.
    expect((await listTools(alice, opened[0]!)).status).toBe(200);
    for (const s of opened.slice(-(perCaller - 1))) expect((await listTools(alice, s)).status).toBe(200);
    const gone = await listTools(alice, opened[1]!);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toContain('session not found');
    // Bob's session and a new one of his are untouched by alice's.
    expect((await listTools(bob, bobSession)).status).toBe(200);
    const bobAgain = await initialize(bob);
    expect(bobAgain.status).toBe(200);
    for (const s of [...opened.slice(-(perCaller - 1)), opened[0]!]) await end(alice, s);
    await end(bob, bobSession);
    await end(bob, bobAgain.headers.get('mcp-session-id')!);
    expect(front.proxy.sessionCount()).toBe(0);
  });

  it('refuses a new session with 429 naming the limit while every one of the caller\'s is busy', async () => {
    const token = await front.issuer.mint({ sub: 'carol', azp: 'agent-3' });
    // Each session with its GET stream open is in use, as an SDK client keeps it.
    const sessions: string[] = [];
    const streams: AbortController[] = [];
    for (let i = 0; i < perCaller; i++) {
      const r = await initialize(token);
      expect(r.status).toBe(200);
      const session = r.headers.get('mcp-session-id')!;
      sessions.push(session);
      const stop = new AbortController();
      streams.push(stop);
      const get = await fetch(front.proxy.url, {
        headers: { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', accept: 'text/event-stream' }, signal: stop.signal,
      });
      expect(get.status).toBe(200);
    }
    try {
      const refused = await initialize(token);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(JSON.stringify(await refused.json())).toContain(`${perCaller} open sessions, the per-caller limit, and none is idle`);
      // Every busy session still answers.
      for (const s of sessions) expect((await listTools(token, s)).status).toBe(200);
      // Another caller is not affected.
      const dave = await front.issuer.mint({ sub: 'dave', azp: 'agent-4' });
      const daveRes = await initialize(dave);
      expect(daveRes.status).toBe(200);
      await end(dave, daveRes.headers.get('mcp-session-id')!);
    } finally {
      // The streams go away without DELETE, as clients do: after the resume grace the sessions are idle, so room.
      for (const stop of streams) stop.abort();
    }
    let again: Response | undefined;
    await expect.poll(async () => (again = await initialize(token)).status, { timeout: 5_000 }).toBe(200);
    sessions.push(again!.headers.get('mcp-session-id')!);
    for (const s of sessions) await end(token, s);
    expect(front.proxy.sessionCount()).toBe(0);
  });

  it('does not overshoot the limit when one caller initializes many sessions at once', async () => {
    const token = await front.issuer.mint({ sub: 'erin', azp: 'agent-5' });
    const before = front.proxy.sessionCount();
    const results = await Promise.all(Array.from({ length: 40 }, () => initialize(token)));
    const statuses = results.map((r) => r.status);
    // Each admitted one either found room or made it by ending an idle one; none beyond the limit.
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(perCaller);
    await expect.poll(() => front.proxy.sessionCount() - before, { timeout: 5_000 }).toBeLessThanOrEqual(perCaller);
    expect(front.proxy.sessionCount() - before).toBeGreaterThan(0);
  });
});
