import { describe, expect, it } from 'vitest';
import type { ApprovalRequest, Decision, Phase } from '../../api/v1alpha1/index.ts';
import { jsonEqual } from '../kube/conditions.ts';
import { desiredApprovalStatus, evaluateApproval, operatorStatusCurrent, settledAt } from './phase.ts';

const t0 = Date.parse('2026-03-01T10:00:00Z');
const expiresAt = '2026-03-01T11:00:00Z';

function request(decisions: Decision[] = [], opts: { quorum?: number; phase?: Phase; operator?: string } = {}): ApprovalRequest {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest',
    metadata: { name: 'ar-1', namespace: 'mail', generation: 1, creationTimestamp: '2026-03-01T10:00:00Z' },
    spec: {
      requester: { agent: 'mail-assistant', operator: opts.operator ?? 'alice' },
      policyRef: { namespace: 'mail', name: 'acme' }, rule: 'approve-external', server: 'gmail', tool: 'send_email', verb: 'create',
      arguments: {}, argumentsDigest: `sha256:${'0'.repeat(64)}`, approvers: ['mail-approvers', 'sre'], quorum: opts.quorum ?? 1, expiresAt,
    },
    status: { decisions, ...(opts.phase ? { phase: opts.phase } : {}) },
  };
}
const approve = (user: string, groups = ['mail-approvers']): Decision => ({ user, groups, decision: 'approve', time: '2026-03-01T10:01:00Z' });
const deny = (user: string, reason?: string): Decision => ({ user, groups: ['sre'], decision: 'deny', time: '2026-03-01T10:02:00Z', ...(reason ? { reason } : {}) });

describe('evaluateApproval', () => {
  it('stays Pending without decisions and approves at quorum 1', () => {
    expect(evaluateApproval(request(), t0).phase).toBe('Pending');
    expect(evaluateApproval(request([approve('bob')]), t0)).toMatchObject({ phase: 'Approved', approvedBy: ['bob'] });
  });

  it('needs distinct people for a quorum of 2', () => {
    expect(evaluateApproval(request([approve('bob'), approve('bob')], { quorum: 2 }), t0)).toMatchObject({ phase: 'Pending', approvedBy: ['bob'] });
    expect(evaluateApproval(request([approve('bob'), approve('carol', ['sre'])], { quorum: 2 }), t0).phase).toBe('Approved');
  });

  it('ignores non-members and the requester (agent and human operator)', () => {
    const out = evaluateApproval(request([approve('mallory', ['other']), approve('alice'), approve('mail-assistant'), approve('eve', [])]), t0);
    expect(out.phase).toBe('Pending');
    expect(out.ignored.map((i) => [i.user, i.why])).toEqual([
      ['mallory', 'not recorded as a member of mail-approvers, sre'], ['alice', 'requester'], ['mail-assistant', 'requester'],
      ['eve', 'not recorded as a member of mail-approvers, sre'],
    ]);
  });

  it('denies on any eligible denial, even after approvals short of quorum, but not on a non-member denial', () => {
    expect(evaluateApproval(request([approve('bob'), deny('carol')], { quorum: 2 }), t0).phase).toBe('Denied');
    expect(evaluateApproval(request([{ ...deny('mallory'), groups: ['other'] }]), t0).phase).toBe('Pending');
  });

  it('expires at expiresAt when undecided, and later decisions change nothing', () => {
    const at = Date.parse(expiresAt);
    expect(evaluateApproval(request(), at - 1).phase).toBe('Pending');
    expect(evaluateApproval(request(), at).phase).toBe('Expired');
    expect(evaluateApproval(request([approve('bob')]), at + 1000).phase).toBe('Expired');
    // Read by a replica whose clock is a little behind the one that expired it.
    expect(evaluateApproval(request([approve('bob')], { phase: 'Expired' }), at - 60_000).phase).toBe('Expired');
  });

  it('fails closed on an unparsable expiresAt', () => {
    const ar = request([approve('bob')]);
    ar.spec.expiresAt = 'not a time';
    expect(evaluateApproval(ar, t0).phase).toBe('Expired');
  });

  it('keeps decided phases the decisions back: Approved stays past expiry, Denied ignores later approvals, Consumed is never overwritten', () => {
    expect(evaluateApproval(request([approve('bob')], { phase: 'Approved' }), Date.parse(expiresAt) + 1).phase).toBe('Approved');
    expect(evaluateApproval(request([deny('carol'), approve('bob')], { phase: 'Denied' }), t0).phase).toBe('Denied');
    const consumed = desiredApprovalStatus(request([approve('bob')], { phase: 'Consumed' }), t0);
    expect(consumed.outcome.phase).toBe('Consumed');
    expect(consumed.status.phase).toBeUndefined();
  });

  // Behaviour change (issue 10): a stored Approved or Denied used to be final whoever wrote it.
  it('does not believe a phase the decisions do not back: it is derived again and overwritten', () => {
    const forged = desiredApprovalStatus(request([], { phase: 'Approved' }), t0);
    expect(forged.status.phase).toBe('Pending');
    expect(evaluateApproval(request([approve('mallory', ['other'])], { phase: 'Approved' }), t0).phase).toBe('Pending');
    expect(evaluateApproval(request([approve('bob')], { phase: 'Approved', quorum: 2 }), t0).phase).toBe('Pending');
    expect(evaluateApproval(request([approve('alice')], { phase: 'Approved' }), t0).phase).toBe('Pending');
    expect(evaluateApproval(request([], { phase: 'Approved' }), Date.parse(expiresAt)).phase).toBe('Expired');
    expect(evaluateApproval(request([], { phase: 'Denied' }), t0).phase).toBe('Pending');
    expect(evaluateApproval(request([approve('bob')], { phase: 'Denied' }), t0).phase).toBe('Approved');
    // Expired an hour early is no clock skew.
    expect(evaluateApproval(request([], { phase: 'Expired' }), t0).phase).toBe('Pending');
    // An eligible denial after an approval (written with the admission policy out of the way) stops the call.
    expect(evaluateApproval(request([approve('bob'), deny('carol')], { phase: 'Approved' }), t0).phase).toBe('Denied');
  });

  it('refuses the Kubernetes usernames the requester is known by', () => {
    const ar = request([approve('oidc:alice'), approve('system:serviceaccount:agents:mail-assistant')]);
    ar.spec.requester.kubernetesUsernames = ['oidc:alice', 'system:serviceaccount:agents:mail-assistant'];
    const out = evaluateApproval(ar, t0);
    expect(out.phase).toBe('Pending');
    expect(out.ignored).toEqual([{ user: 'oidc:alice', why: 'requester' }, { user: 'system:serviceaccount:agents:mail-assistant', why: 'requester' }]);
  });

  it('leaves Superseded to the authorizer and says what changed', () => {
    const ar = request([approve('bob')], { phase: 'Superseded' });
    ar.status!.conditions = [{ type: 'Superseded', status: 'True', reason: 'PolicyChanged', message: 'policy mail/acme revision r2 requires 2 approvals from security', lastTransitionTime: '2026-03-01T10:05:00Z' }];
    const { status, outcome } = desiredApprovalStatus(ar, t0);
    expect(outcome.phase).toBe('Superseded');
    expect(status.phase).toBeUndefined();
    expect(status.conditions.find((c) => c.type === 'Decided')).toMatchObject({ status: 'True', reason: 'Superseded', message: expect.stringContaining('requires 2 approvals from security') });
  });
});

describe('desiredApprovalStatus', () => {
  it('writes a Decided condition naming who decided, with observedGeneration', () => {
    const { status } = desiredApprovalStatus(request([approve('bob'), approve('mallory', ['x'])]), t0);
    expect(status.phase).toBe('Approved');
    expect(status.conditions[0]).toMatchObject({
      type: 'Decided', status: 'True', reason: 'Approved', observedGeneration: 1,
      message: 'approved by bob (quorum 1); ignored: mallory (not recorded as a member of mail-approvers, sre)',
    });
    const denied = desiredApprovalStatus(request([deny('carol', 'wrong recipient')]), t0).status.conditions[0];
    expect(denied).toMatchObject({ reason: 'Denied', message: 'denied by carol (wrong recipient)' });
    const pending = desiredApprovalStatus(request([approve('bob')], { quorum: 2 }), t0).status.conditions[0];
    expect(pending).toMatchObject({ status: 'False', reason: 'AwaitingApproval', message: `waiting for 1 more approval from a member of mail-approvers, sre until ${expiresAt} (approved so far by bob)` });
  });

  it('is a no-op when re-derived from its own output', () => {
    const ar = request([approve('bob')]);
    const first = desiredApprovalStatus(ar, t0).status;
    ar.status = { ...ar.status, ...first };
    const again = desiredApprovalStatus(ar, t0 + 60_000).status;
    expect(operatorStatusCurrent(ar.status, again, jsonEqual)).toBe(true);
    expect(operatorStatusCurrent({ ...ar.status, phase: 'Pending' }, again, jsonEqual)).toBe(false);
  });
});

describe('settledAt', () => {
  it('is undefined while pending and counts an approval from expiry at the earliest', () => {
    expect(settledAt(request())).toBeUndefined();
    const ar = request([approve('bob')]);
    ar.status = { ...ar.status, ...desiredApprovalStatus(ar, t0).status };
    expect(settledAt(ar)).toBe(Date.parse(expiresAt));
    const denied = request([deny('carol')]);
    denied.status = { ...denied.status, ...desiredApprovalStatus(denied, t0).status };
    expect(settledAt(denied)).toBe(t0);
  });
});
