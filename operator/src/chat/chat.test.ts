// The pure parts of approving from chat: Slack's request signing (documented algorithm), the
// timestamp window and replay refusal, the strict reading of the interaction payload, the
// identity table and the impersonator role derived from it, and the buttons on the message.
import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { requestedMessage } from '../controllers/approval-message.ts';
import { IdentityMapError, impersonatorRole, parseIdentityMap } from './identity-map.ts';
import { approveActionId, buttonValue, denyActionId, InteractionError, parseInteraction } from './slack-interaction.ts';
import { ReplayCache, slackSignature, verifySlackRequest } from './slack-signature.ts';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const now = 1_531_420_618_000;

describe('Slack request signatures', () => {
  // Slack's documented example: this secret, timestamp and body give this signature.
  const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const sig = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

  it('computes Slack\'s documented example signature', () => {
    expect(slackSignature(secret, '1531420618', body)).toBe(sig);
  });

  const verify = (o: Partial<Parameters<typeof verifySlackRequest>[0]>, cache = new ReplayCache(300_000)) =>
    verifySlackRequest({ secrets: [secret], timestamp: '1531420618', signature: sig, rawBody: Buffer.from(body), nowMs: now, ...o }, cache);

  it('accepts the genuine request once, then refuses its replay', () => {
    const cache = new ReplayCache(300_000);
    expect(verify({}, cache)).toEqual({ ok: true });
    expect(verify({ nowMs: now + 1000 }, cache)).toMatchObject({ ok: false, reason: 'replay' });
  });

  it('refuses a changed body, a wrong secret, a missing or malformed header', () => {
    expect(verify({ rawBody: Buffer.from(`${body}&x=1`) })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verify({ secrets: ['another-secret'] })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(verify({ signature: undefined })).toMatchObject({ ok: false, reason: 'missing-headers' });
    expect(verify({ timestamp: '1531420618.5' })).toMatchObject({ ok: false, reason: 'bad-timestamp' });
    expect(verify({ signature: sig.toUpperCase() })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('accepts either secret during a rotation', () => {
    expect(verify({ secrets: ['old-secret', secret] })).toEqual({ ok: true });
  });

  it('refuses timestamps more than 5 minutes away, either way', () => {
    expect(verify({ nowMs: now + 300_000 })).toEqual({ ok: true });
    expect(verify({ nowMs: now + 301_000 })).toMatchObject({ ok: false, reason: 'stale' });
    expect(verify({ nowMs: now - 301_000 })).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('keeps a signature for as long as its timestamp is acceptable, and refuses when full rather than forget', () => {
    const cache = new ReplayCache(300_000, 2);
    expect(cache.remember('a', 0)).toBe(true);
    expect(cache.remember('b', 1)).toBe(true);
    expect(cache.remember('c', 2)).toBeUndefined();
    expect(cache.remember('a', 600_000)).toBe(false);
    expect(cache.remember('a', 600_001)).toBe(true);
  });
});

const uid = '6f1d3c1e-0000-4000-8000-000000000001';
const ar: ApprovalRequest = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name: 'ar-1', namespace: 'team-a', uid },
  spec: {
    requester: { agent: 'mail-assistant', operator: 'carol' }, policyRef: { namespace: 'team-a', name: 'acme' }, rule: 'approve-external',
    server: 'gmail', tool: 'send_email', verb: 'create', arguments: { to: ['bob@partner.example'] },
    argumentsDigest: `sha256:${'0'.repeat(64)}`, approvers: ['sre'], quorum: 1, expiresAt: '2026-03-01T11:00:00Z',
  },
};
const value = buttonValue({ namespace: 'team-a', name: 'ar-1', uid });

function form(payload: unknown, extra = ''): Buffer {
  return Buffer.from(`payload=${encodeURIComponent(typeof payload === 'string' ? payload : JSON.stringify(payload))}${extra}`);
}
const click = (over: Record<string, unknown> = {}) => ({
  type: 'block_actions', user: { id: 'U012ABC', team_id: 'T0001' }, team: { id: 'T0001', domain: 'acme' },
  response_url: 'https://hooks.slack.com/actions/T0001/1/abc', actions: [{ action_id: approveActionId, value, type: 'button' }], ...over,
});
const form_ = 'application/x-www-form-urlencoded';

describe('the interaction payload', () => {
  it('reads user, team, decision, request and response_url', () => {
    expect(parseInteraction(form(click()), form_)).toEqual({
      user: { platform: 'slack', team: 'T0001', user: 'U012ABC' }, decision: 'approve',
      target: { namespace: 'team-a', name: 'ar-1', uid: uid }, responseUrl: 'https://hooks.slack.com/actions/T0001/1/abc',
    });
    expect(parseInteraction(form(click({ actions: [{ action_id: denyActionId, value }] })), form_).decision).toBe('deny');
  });

  it.each([
    ['a second payload field', form(click(), `&payload=${encodeURIComponent(JSON.stringify(click()))}`), /exactly one form field/],
    ['another form field', form(click(), '&user=U999'), /exactly one form field/],
    ['a duplicate JSON key', form(JSON.stringify(click()).replace('"type":"block_actions"', '"type":"block_actions","type":"view_submission"')), /not valid JSON/],
    ['another payload type', form(click({ type: 'view_submission' })), /not block_actions/],
    ['two actions', form(click({ actions: [{ action_id: approveActionId, value }, { action_id: denyActionId, value }] })), /exactly one action/],
    ['an action of someone else', form(click({ actions: [{ action_id: 'approve', value }] })), /is not toolgate.approve/],
    ['a value with an extra field', form(click({ actions: [{ action_id: approveActionId, value: JSON.stringify({ ns: 'a', name: 'b', uid: 'c', extra: 1 }) }] })), /does not name an ApprovalRequest/],
    ['a value without uid', form(click({ actions: [{ action_id: approveActionId, value: JSON.stringify({ ns: 'a', name: 'b' }) }] })), /does not name an ApprovalRequest/],
    ['no team', form(click({ team: null, user: { id: 'U1' } })), /no user.id and team.id/],
  ])('refuses %s', (_n, body, message) => {
    expect(() => parseInteraction(body, form_)).toThrow(InteractionError);
    expect(() => parseInteraction(body, form_)).toThrow(message);
  });

  it('refuses a JSON body (Slack sends a form)', () => {
    expect(() => parseInteraction(Buffer.from(JSON.stringify(click())), 'application/json')).toThrow(/x-www-form-urlencoded/);
  });
});

describe('the identity map', () => {
  const data = {
    'slack.T0001.U012ABC': '{"username": "alice@example.com", "groups": ["sre"]}',
    'slack.T0001.U045DEF': '{"username": "bob@example.com", "groups": ["sre", "security"]}',
  };

  it('maps team+user to a username and groups', () => {
    const m = parseIdentityMap(data);
    expect(m.get('slack.T0001.U012ABC')).toEqual({ username: 'alice@example.com', groups: ['sre'] });
    // Same user id in another workspace is someone else.
    expect(m.get('slack.T0002.U012ABC')).toBeUndefined();
  });

  it.each([
    ['a key without team', { 'slack.U012ABC': '{"username":"a"}' }, /slack.<TEAM_ID>.<USER_ID>/],
    ['a system: user', { 'slack.T1.U1': '{"username":"system:serviceaccount:x:y"}' }, /system: identity/],
    ['a system: group', { 'slack.T1.U1': '{"username":"a","groups":["system:masters"]}' }, /system: identity/],
    ['an unknown field', { 'slack.T1.U1': '{"username":"a","uid":"0"}' }, /unknown fields: uid/],
    ['a duplicate key', { 'slack.T1.U1': '{"username":"a","username":"b"}' }, /not JSON/],
    ['no username', { 'slack.T1.U1': '{"groups":["sre"]}' }, /needs a username/],
  ])('refuses %s', (_n, d, message) => {
    expect(() => parseIdentityMap(d)).toThrow(IdentityMapError);
    expect(() => parseIdentityMap(d)).toThrow(message);
  });

  it('yields an impersonator role for exactly the mapped users and groups', () => {
    expect(impersonatorRole('toolgate-chat-impersonator', parseIdentityMap(data)).rules).toEqual([
      { apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: ['alice@example.com', 'bob@example.com'] },
      { apiGroups: [''], resources: ['groups'], verbs: ['impersonate'], resourceNames: ['security', 'sre'] },
    ]);
  });
});

describe('the approval message', () => {
  it('carries Approve and Deny buttons naming the request with its uid', () => {
    const actions = requestedMessage(ar).blocks.find((b) => b.type === 'actions') as { elements: Array<Record<string, unknown>> };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([[approveActionId, value], [denyActionId, value]]);
    // The buttons round-trip through the parser.
    expect(parseInteraction(form(click({ actions: [{ action_id: actions.elements[1]!.action_id, value: actions.elements[1]!.value }] })), form_).target)
      .toEqual({ namespace: 'team-a', name: 'ar-1', uid: uid });
  });

  it('has no buttons for a request without a uid', () => {
    const { uid: _uid, ...metadata } = ar.metadata;
    expect(requestedMessage({ ...ar, metadata }).blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});
