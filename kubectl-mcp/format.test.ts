import { describe, expect, it } from 'vitest';
import type { ApprovalRequest, McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import type { Decision } from '../pkg/policy/engine/index.ts';
import { parse, UsageError } from './cli.ts';
import { parseDuration } from './decide.ts';
import { labelSources, revisionNote } from './explain-render.ts';
import { approvalTable, duePhase, humanDuration, indentJson, relativeTime, tally } from './format.ts';

const request = (decisions: NonNullable<ApprovalRequest['status']>['decisions'] = [], quorum = 2): ApprovalRequest => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name: 'ar-1', namespace: 'team-a', creationTimestamp: '2030-01-01T00:00:00Z' },
  spec: {
    requester: { agent: 'bot', operator: 'carol' }, policyRef: { namespace: 'team-a', name: 'p' }, rule: 'ext',
    server: 'gmail', tool: 'send_email', verb: 'create', arguments: {}, argumentsDigest: `sha256:${'0'.repeat(64)}`,
    approvers: ['mail-approvers'], quorum, expiresAt: '2030-01-01T01:00:00Z',
  },
  status: { decisions },
});
const d = (user: string, decision: 'approve' | 'deny', groups = ['mail-approvers']) => ({ user, groups, decision, time: '2030-01-01T00:00:01Z' });

describe('humanDuration', () => {
  it.each([[0, '0s'], [119_000, '119s'], [125_000, '2m5s'], [600_000, '10m'], [3 * 3600_000 + 5 * 60_000, '3h5m'], [30 * 3600_000, '30h'], [50 * 3600_000, '2d2h'], [400 * 86_400_000, '400d']])('%d ms → %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
  it('says in which direction an expiry lies', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(relativeTime('2030-01-01T00:30:00Z', now)).toBe('in 30m');
    expect(relativeTime('2029-12-31T23:57:00Z', now)).toBe('3m ago');
    expect(relativeTime('not a date', now)).toBe('<unknown>');
  });
});

describe('tally', () => {
  it('counts distinct approvers in an approver group, never the requester', () => {
    const ar = request([d('alice', 'approve'), d('alice', 'approve'), d('carol', 'approve'), d('eve', 'approve', ['other'])]);
    expect(tally(ar).approvedBy).toEqual(['alice']);
    expect(duePhase(ar)).toBe('Pending');
    expect(duePhase(request([d('alice', 'approve'), d('bob', 'approve')]))).toBe('Approved');
  });
  it('lets any denial win', () => {
    expect(duePhase(request([d('alice', 'approve'), d('bob', 'approve'), d('eve', 'deny', [])]))).toBe('Denied');
  });
});

describe('approvalTable', () => {
  it('prints kubectl-style columns, NAMESPACE only with -A and more with wide', () => {
    const now = Date.parse('2030-01-01T00:10:00Z');
    const table = approvalTable([request([d('alice', 'approve')])], { allNamespaces: true, wide: true, now });
    const [header, row] = table.trimEnd().split('\n');
    expect(header!.split(/\s{3,}/)).toEqual(['NAMESPACE', 'NAME', 'PHASE', 'AGENT', 'OPERATOR', 'SERVER', 'TOOL', 'RULE', 'APPROVALS', 'EXPIRES', 'AGE', 'VERB', 'LABELS', 'APPROVERS', 'POLICY', 'DECIDED BY']);
    expect(row!.split(/\s{3,}/)).toEqual(['team-a', 'ar-1', 'Pending', 'bot', 'carol', 'gmail', 'send_email', 'ext', '1/2', 'in 50m', '10m', 'create', '<none>', 'mail-approvers', 'team-a/p', 'alice:approve']);
    expect(approvalTable([request()], { allNamespaces: false, wide: false, now }).startsWith('NAME ')).toBe(true);
  });
});

describe('flags', () => {
  const opts = { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } as const;
  it('accepts pflag spellings and refuses unknown flags and extra arguments as usage errors', () => {
    expect(parse('approvals', ['-o=json'], opts, 0).values.output).toBe('json');
    expect(parse('approvals', ['-ojson'], opts, 0).values.output).toBe('json');
    expect(() => parse('approvals', ['--as=bob'], opts, 0)).toThrow(UsageError);
    expect(() => parse('approve', ['a', 'b'], opts, 1)).toThrow(/unexpected argument: b/);
  });
  it('parses --wait durations', () => {
    expect(parseDuration('5s', 'approve')).toBe(5000);
    expect(parseDuration('250ms', 'approve')).toBe(250);
    expect(parseDuration('0', 'approve')).toBe(0);
    expect(parseDuration('1h', 'approve')).toBe(3_600_000);
    expect(parseDuration('1h30m', 'approve')).toBe(5_400_000);
    expect(() => parseDuration('soon', 'approve')).toThrow(UsageError);
    expect(() => parseDuration('soon', 'approve')).toThrow('invalid duration "soon" for --wait: expected numbers with units (ms, s, m, h), for example 30s, 15m, 1h or 1h30m');
    // A bare number is not a duration in the CRDs either (only 0, meaning "do not wait").
    expect(() => parseDuration('5', 'approve')).toThrow(/invalid duration "5" for --wait/);
  });
});

describe('explain rendering', () => {
  const policy = (revision?: string): McpSecurityPolicy => ({
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'p', generation: 3 },
    spec: { servers: [], policies: [] }, ...(revision ? { status: { revision } } : {}),
  }) as McpSecurityPolicy;
  it('says whether the computed revision is the one being served', () => {
    expect(revisionNote('abc', policy('abc')).current).toBe(true);
    expect(revisionNote('abc', policy('old'))).toMatchObject({ current: false, text: expect.stringContaining('status.revision is old but the current spec (generation 3)') });
    expect(revisionNote('abc', policy())).toMatchObject({ current: false, text: expect.stringContaining('has no status.revision') });
  });
  it('attributes each label to the classifier or tool entry that set it', () => {
    const decision = { labels: ['a', 'b', 'c'], reasons: ['matched rule "r" (priority 1)', 'spec.classifiers[0] set b,c'], sources: ['profile:x', 'classifiers'] } as Decision;
    const tool = { labels: ['a'], sources: ['profile:x', 'override'] } as Parameters<typeof labelSources>[1];
    expect(labelSources(decision, tool)).toEqual([['a', 'profile:x + override'], ['b', 'classifiers: spec.classifiers[0]'], ['c', 'classifiers: spec.classifiers[0]']]);
  });
});

describe('indentJson', () => {
  it('indents without parsing: big numbers, decimals and key order stay exactly as digested', () => {
    expect(indentJson('{"b":[1,2.50,{}],"a":{"n":12345678901234567890123,"e":[]}}')).toBe(
      '{\n  "b": [\n    1,\n    2.50,\n    {}\n  ],\n  "a": {\n    "n": 12345678901234567890123,\n    "e": []\n  }\n}');
  });

  it('keeps structure characters inside strings, and shows characters that reorder or hide text escaped', () => {
    expect(indentJson('{"k":"a,b:{c}\\"d"}')).toBe('{\n  "k": "a,b:{c}\\"d"\n}');
    expect(indentJson('["pay \u202eevil\u200b"]')).toBe('[\n  "pay \\u202eevil\\u200b"\n]');
  });
});
