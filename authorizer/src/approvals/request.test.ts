import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../pkg/policy/engine/types.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { kubernetesUsernamesOf } from './kubernetes-usernames.ts';
import { createRedactor, secretDetectorNames } from '../../../pkg/redact/index.ts';
import { approvalName, argumentsDigest, buildApprovalRequest, looksSecret, redactArguments, sameCall, specMismatches } from './request.ts';

const decision: Decision = {
  action: 'require_approval', rule: 'external-mail', reasons: ['mail leaves the company'], labels: ['external'],
  annotations: { readOnlyHint: false, openWorldHint: true }, verb: 'create', approvers: ['sre'], quorum: 2, timeout: '15m',
  enforcement: 'enforce', sources: [], policy: { namespace: 'team-a', name: 'agents' },
};
const verdict: Verdict = { decisionId: 'd-1', decision, revision: 'rev-9', effect: 'hold' };
const call = (args: Record<string, unknown>, agent = 'agent-1'): ToolCall => ({
  server: 'gmail', tool: 'send_email', arguments: args, frontEnd: 'proxy',
  caller: { subject: 'alice', issuer: 'https://idp', agent, operator: 'alice', roles: [], scopes: [] },
});

describe('argumentsDigest', () => {
  it('ignores key order and differs on any value change', () => {
    expect(argumentsDigest({ a: 1, b: { c: 'x', d: [1, 2] } })).toBe(argumentsDigest({ b: { d: [1, 2], c: 'x' }, a: 1 }));
    expect(argumentsDigest({ a: 1 })).not.toBe(argumentsDigest({ a: 2 }));
    expect(argumentsDigest(undefined)).toBe(argumentsDigest({}));
    expect(argumentsDigest({})).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('redactArguments', () => {
  it('hides values of secret-named keys and credential-looking strings, keeps the rest', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl';
    const out = redactArguments({
      to: 'bob@example.com', body: 'Hello Bob, the report is attached.', password: 'hunter2', api_key: 12345,
      headers: { Authorization: 'anything', 'x-trace': 'abc' }, credentials: { user: 'u', pass: 'p' },
      note: jwt, stripe: 'sk_live_abcdefghijklmnop1234', pem: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----',
      random: 'Zx9Qw2Er7Ty1Ui8Op3As6Df4Gh5Jk0LmNb', commit: '3f786850e387550fdab836ed7e6dc881de23001b', list: ['fine', jwt],
    });
    // pkg/redact's markers name what was found; a secret-named key's whole subtree goes at once.
    const key = '[REDACTED:secret-key]';
    expect(out).toEqual({
      to: 'bob@example.com', body: 'Hello Bob, the report is attached.', password: key, api_key: key,
      headers: { Authorization: key, 'x-trace': 'abc' }, credentials: key,
      note: '[REDACTED:jwt]', stripe: '[REDACTED:api-token]', pem: '[REDACTED:private-key]', random: '[REDACTED:high-entropy]', commit: '3f786850e387550fdab836ed7e6dc881de23001b', list: ['fine', '[REDACTED:jwt]'],
    });
  });

  it('cuts very long strings and says how much was cut', () => {
    const out = redactArguments({ text: 'a b '.repeat(2000) }) as { text: string };
    expect(out.text.endsWith('…[3904 more characters]')).toBe(true);
  });

  it('shows lone surrogates as U+FFFD, as the API server would store them', () => {
    expect(redactArguments({ ['k\uD800']: 'a\uDC00b', list: ['\uD83D'] })).toEqual({ 'k\uFFFD': 'a\uFFFDb', list: ['\uFFFD'] });
  });

  it('hides every credential the audit record\'s redactor finds, and keeps the contact data it would hide (one redactor, pkg/redact)', () => {
    const audit = createRedactor();
    const corpus: Record<string, unknown> = {
      jwt: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl', bearer: 'use Bearer abcdefgh12345678 here', aws: 'AKIAIOSFODNN7EXAMPLE',
      gh: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', slack: 'xoxb-1234567890-abcdefghij', google: 'AIzaSyA1234567890abcdefghijklmnopqrstuv',
      pem: '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----', entropy: 'Zx9Qw2Er7Ty1Ui8Op3As6Df4Gh5Jk0LmNb',
      nested: { deeper: [{ client_secret: 'plain words', cookie: 'a=b' }] }, passphrase: 'correct horse',
      email: 'bob@example.com', phone: '+44 20 7946 0958', prose: 'Please book the room for Tuesday.',
    };
    const audited = audit(corpus);
    const approved = JSON.stringify(redactArguments(corpus));
    const secretKinds = new Set([...secretDetectorNames, 'secret-key']);
    const personalKinds = Object.keys(audited.found).filter((k) => !secretKinds.has(k));
    // The audit redactor found credentials of several kinds and personal data of others.
    expect(Object.keys(audited.found).filter((k) => secretKinds.has(k)).length).toBeGreaterThanOrEqual(6);
    expect(personalKinds).toEqual(expect.arrayContaining(['email', 'phone']));
    for (const [k, v] of Object.entries(corpus)) {
      const alone = audit({ [k]: v });
      const secret = Object.keys(alone.found).some((f) => secretKinds.has(f));
      const raw = typeof v === 'string' ? v : JSON.stringify(v).slice(1, -1);
      if (secret) expect(approved, `${k} is a credential to the audit record, so approvers must not see it`).not.toContain(typeof v === 'string' ? v : 'plain words');
      else expect(approved, `${k} is no credential: approvers see it`).toContain(raw);
    }
  });

  it('does not flag prose or short ids', () => {
    expect(looksSecret('please send the quarterly numbers to finance')).toBe(false);
    expect(looksSecret('INV-2024-0001')).toBe(false);
    expect(looksSecret('ghp_abcdefghijklmnopqrstuvwxyz0123456789')).toBe(true);
  });
});

describe('buildApprovalRequest', () => {
  const now = new Date('2030-01-01T00:00:00.400Z');

  it('fills the spec from the call and the decision, redacting arguments and digesting the originals', () => {
    const args = { to: 'bob@example.com', token: 'secret-value' };
    const r = buildApprovalRequest(call(args), verdict, now);
    expect(r.metadata).toEqual({
      name: expect.stringMatching(/^ar-[0-9a-f]{40}$/), namespace: 'team-a',
      labels: { 'app.kubernetes.io/managed-by': 'toolgate-authorizer', 'toolgate.io/policy': 'agents' },
    });
    expect(r.spec).toEqual({
      requester: { agent: 'agent-1', operator: 'alice' },
      policyRef: { namespace: 'team-a', name: 'agents', revision: 'rev-9' },
      rule: 'external-mail', reason: 'mail leaves the company', server: 'gmail', tool: 'send_email', verb: 'create',
      labels: ['external'], annotations: { readOnlyHint: false, openWorldHint: true },
      arguments: { to: 'bob@example.com', token: '[REDACTED:secret-key]' }, argumentsDigest: argumentsDigest(args),
      approvers: ['sre'], quorum: 2, expiresAt: '2030-01-01T00:15:01Z',
    });
  });

  it('names the identical call identically and any different call differently', () => {
    const name = (c: ToolCall) => buildApprovalRequest(c, verdict, now).metadata.name;
    expect(name(call({ b: 2, a: 1 }))).toBe(name(call({ a: 1, b: 2 })));
    expect(name(call({ a: 1 }))).not.toBe(name(call({ a: 2 })));
    expect(name(call({ a: 1 }))).not.toBe(name(call({ a: 1 }, 'agent-2')));
    const spec = buildApprovalRequest(call({}), verdict, now).spec;
    expect(approvalName(spec)).not.toBe(approvalName({ ...spec, tool: 'other' }));
  });

  it('names a request after what the policy requires of the call, not after when or under which revision it was asked', () => {
    const r = (v: Verdict, at = now, names: string[] = []) => buildApprovalRequest(call({ a: 1 }), v, at, names);
    const base = r(verdict);
    const other = (d: Partial<Decision>) => r({ ...verdict, decision: { ...decision, ...d } }).metadata.name;
    expect(r({ ...verdict, revision: 'rev-10' }).metadata.name).toBe(base.metadata.name);
    expect(r(verdict, new Date(now.getTime() + 3_600_000)).metadata.name).toBe(base.metadata.name);
    expect(other({ approvers: ['security'] })).not.toBe(base.metadata.name);
    expect(other({ quorum: 1 })).not.toBe(base.metadata.name);
    expect(other({ rule: 'stricter' })).not.toBe(base.metadata.name);
    expect(other({ labels: ['external', 'pii'] })).not.toBe(base.metadata.name);
    expect(r(verdict, now, ['oidc:alice']).metadata.name).not.toBe(base.metadata.name);
    // Still the same call, whatever it requires.
    expect(sameCall(base.spec, r({ ...verdict, decision: { ...decision, approvers: ['security'] } }).spec)).toBe(true);
    expect(sameCall(base.spec, buildApprovalRequest(call({ a: 2 }), verdict, now).spec)).toBe(false);
  });

  it('records the Kubernetes usernames of the requester', () => {
    const r = buildApprovalRequest(call({}), verdict, now, ['oidc:alice', 'oidc:agent-1', 'oidc:alice']);
    expect(r.spec.requester).toEqual({ agent: 'agent-1', operator: 'alice', kubernetesUsernames: ['oidc:alice', 'oidc:agent-1'] });
  });
  it('refuses a verdict without a policy or approvers, naming what is missing', () => {
    expect(() => buildApprovalRequest(call({}), { ...verdict, decision: { ...decision, policy: {} } }, now)).toThrow(/names no policy/);
    expect(() => buildApprovalRequest(call({}), { ...verdict, decision: { ...decision, approvers: [] } }, now)).toThrow(/no approver groups/);
  });
});

describe('specMismatches', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const desired = buildApprovalRequest(call({ to: 'bob@example.com' }), verdict, now).spec;

  it('finds nothing in the request it would create, whenever and under whichever revision it was created', () => {
    expect(specMismatches(desired, desired)).toEqual([]);
    const earlier = buildApprovalRequest(call({ to: 'bob@example.com' }), { ...verdict, revision: 'rev-1' }, new Date(now.getTime() - 60_000)).spec;
    expect(specMismatches(earlier, desired)).toEqual([]);
  });

  it('names every field a pre-created request weakens, and a later expiry', () => {
    const forged = { ...desired, approvers: ['interns'], quorum: 1, requester: { agent: 'agent-1' }, expiresAt: '2031-01-01T00:00:00Z' };
    expect(specMismatches(forged, desired)).toEqual([
      'spec.approvers is ["interns"], expected ["sre"]',
      'spec.quorum is 1, expected 2',
      'spec.requester is {"agent":"agent-1"}, expected {"agent":"agent-1","operator":"alice"}',
      `spec.expiresAt 2031-01-01T00:00:00Z is later than the rule allows (${desired.expiresAt})`,
    ]);
    expect(specMismatches({ ...desired, argumentsDigest: `sha256:${'1'.repeat(64)}` }, desired)).toEqual([
      `spec.argumentsDigest is "sha256:${'1'.repeat(64)}", expected "${desired.argumentsDigest}"`,
    ]);
  });
});

describe('kubernetesUsernamesOf', () => {
  const caller = { subject: 'alice', issuer: 'https://idp.example', agent: 'mail-bot', operator: 'alice', roles: [], scopes: [] };

  it('renders each template for the caller, as the API server would name them', () => {
    expect(kubernetesUsernamesOf(caller, ['oidc:{operator}', '{issuer}#{subject}', 'system:serviceaccount:agents:{agent}', 'oidc:{operator}']))
      .toEqual(['oidc:alice', 'https://idp.example#alice', 'system:serviceaccount:agents:mail-bot']);
    expect(kubernetesUsernamesOf(caller, undefined)).toEqual([]);
  });

  it('skips a template whose identity the token lacks, and falls back to the subject for the agent', () => {
    const { operator: _o, agent: _a, ...bare } = caller;
    expect(kubernetesUsernamesOf(bare, ['oidc:{operator}', 'oidc:{agent}'])).toEqual(['oidc:alice']);
  });

  it('refuses a template it cannot render', () => {
    expect(() => kubernetesUsernamesOf(caller, ['oidc:{email}'])).toThrow(/placeholder other than/);
    expect(() => kubernetesUsernamesOf(caller, ['oidc:{operator'])).toThrow(/placeholder other than/);
  });
});
