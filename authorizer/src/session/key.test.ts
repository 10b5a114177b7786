import { describe, expect, it } from 'vitest';
import { conversationId, conversationMetaKey, sessionKeys } from './key.ts';

const alice = { issuer: 'https://issuer.test', subject: 'alice' };

describe('sessionKeys', () => {
  it('uses the session id, else the conversation id, else the caller; always scoped to the caller', () => {
    const bySession = sessionKeys(alice, 'S1', 'C1');
    const byConversation = sessionKeys(alice, undefined, 'C1');
    const byCaller = sessionKeys(alice, undefined, undefined);
    expect(new Set([bySession.session, byConversation.session, byCaller.session]).size).toBe(3);
    expect(byCaller.session).toBe(byCaller.caller);
    expect(bySession.caller).toBe(byCaller.caller);
    expect(bySession.scope).toEqual({ ...alice, session: 'session:S1' });
    expect(byConversation.scope).toEqual({ ...alice, session: 'conversation:C1' });
  });

  it('gives two callers with the same session id different keys', () => {
    expect(sessionKeys(alice, 'S1', undefined).session).not.toBe(sessionKeys({ ...alice, subject: 'bob' }, 'S1', undefined).session);
    expect(sessionKeys(alice, 'S1', undefined).session).not.toBe(sessionKeys({ ...alice, issuer: 'https://other.test' }, 'S1', undefined).session);
  });

  it('cannot be made to collide by separators inside issuer, subject or id', () => {
    const a = sessionKeys({ issuer: 'i', subject: 's","x' }, 'y', undefined);
    const b = sessionKeys({ issuer: 'i', subject: 's' }, 'x","y', undefined);
    expect(a.session).not.toBe(b.session);
    expect(sessionKeys({ issuer: 'i\ns', subject: 't' }, undefined, undefined).caller).not.toBe(sessionKeys({ issuer: 'i', subject: 's\nt' }, undefined, undefined).caller);
  });

  it('an empty session id counts as none', () => {
    expect(sessionKeys(alice, '', undefined).session).toBe(sessionKeys(alice, undefined, undefined).caller);
  });
});

describe('conversationId', () => {
  const meta = (v: unknown) => ({ _meta: { [conversationMetaKey]: v } });
  it('reads the _meta key, and nothing when it is absent', () => {
    expect(conversationId(meta('conv-1'))).toEqual({ ok: true, id: 'conv-1' });
    expect(conversationId({})).toEqual({ ok: true });
    expect(conversationId(undefined)).toEqual({ ok: true });
    expect(conversationId({ _meta: { other: 'x' } })).toEqual({ ok: true });
  });

  it('refuses ids that are not short printable strings, naming the key', () => {
    for (const bad of ['', 'a b', 'x'.repeat(257), 7, null, ['a'], 'caf\u00e9', 'a\u200bb']) {
      const r = conversationId(meta(bad));
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      if (!r.ok) expect(r.error).toContain(conversationMetaKey);
    }
  });
});
