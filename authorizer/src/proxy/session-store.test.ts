// The session store's limits as pure logic: which session makes room for a caller at its
// limit, what is refused, and that reservations count until added or released.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CallerIdentity } from '../gate/index.ts';
import { ProxySession, SessionStore, type SessionDeps } from './session.ts';

const log = pino({ level: 'silent' });
// Sessions here never reach an upstream: nothing of the deps is used.
const deps = { log } as unknown as SessionDeps;
const caller = (subject: string): CallerIdentity => ({ issuer: 'https://idp.test', subject, agent: 'agent-1', roles: [], scopes: [] });
const init = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } };

function open(store: SessionStore, who: CallerIdentity): ProxySession | string {
  const room = store.reserve(who);
  if (!room.ok) return `${room.status} ${room.message}`;
  const s = new ProxySession(who, init, deps, { server: 'x' }, '/mcp');
  store.add(s, room);
  return s;
}

describe('SessionStore limits', () => {
  it('ends the least recently used idle session of the caller at its limit, skipping busy ones and those holding tasks', async () => {
    const holding = new Set<string>();
    const store = new SessionStore({ maxSessions: 100, maxSessionsPerCaller: 3, idleTimeoutMs: 60_000, log, holdsWork: (s) => holding.has(s.id) });
    const alice = caller('alice');
    const [a, b, c] = [open(store, alice), open(store, alice), open(store, alice)] as ProxySession[];
    const leave = a!.enter();
    holding.add(b!.id);
    const d = open(store, alice) as ProxySession;
    // a is busy (a request running) and b holds a task: c, the next least recently used, went.
    expect(store.get(c!.id)).toBeUndefined();
    expect([a, b, d].every((s) => store.get(s!.id) === s)).toBe(true);
    // All three busy or holding work now (d gets a GET stream): refused, nothing ended.
    d.deliver = () => undefined;
    expect(open(store, alice)).toBe('429 this caller has 3 open sessions, the per-caller limit, and none is idle; end unused ones with DELETE or retry later');
    expect(store.countOf(alice)).toBe(3);
    leave();
    expect(open(store, alice)).toBeInstanceOf(ProxySession);
    expect(store.get(a!.id)).toBeUndefined();
    await store.closeAll();
  });

  it('counts reservations against both limits until they are added or released, and answers 503 when full', async () => {
    const store = new SessionStore({ maxSessions: 3, maxSessionsPerCaller: 2, idleTimeoutMs: 60_000, log });
    const alice = caller('alice');
    const r1 = store.reserve(alice);
    const r2 = store.reserve(alice);
    expect(r1.ok && r2.ok).toBe(true);
    // Two initializes of alice under way and none of her sessions to end: a third is refused.
    expect(store.reserve(alice)).toMatchObject({ ok: false, status: 429 });
    const bob = store.reserve(caller('bob'));
    expect(bob.ok).toBe(true);
    expect(store.reserve(caller('carol'))).toEqual({ ok: false, status: 503, message: 'too many open sessions; retry later' });
    if (r1.ok) r1.release();
    if (r1.ok) r1.release();
    expect(store.reserve(caller('carol')).ok).toBe(true);
    await store.closeAll();
  });
});
