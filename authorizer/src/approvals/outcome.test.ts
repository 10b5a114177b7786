import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import type { Decision } from '../../../pkg/policy/engine/types.ts';
import { ErrorCodes } from '../gate/jsonrpc.ts';
import type { Verdict } from '../gate/types.ts';
import { outcomeError } from './outcome.ts';

const decision: Decision = {
  action: 'require_approval', rule: 'external-mail', reasons: ['mail leaves the company'], labels: [], annotations: {}, verb: 'create',
  approvers: ['sre'], quorum: 1, timeout: '15m', enforcement: 'enforce', sources: [], policy: { namespace: 'team-a', name: 'agents' },
};
const verdict: Verdict = { decisionId: 'd-1', decision, revision: 'rev-9', effect: 'hold' };
const request = (status: ApprovalRequest['status'] = {}): ApprovalRequest => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name: 'ar-1', namespace: 'team-a' },
  spec: {
    requester: { agent: 'agent-1' }, policyRef: { namespace: 'team-a', name: 'agents' }, rule: 'external-mail', server: 'gmail', tool: 'send_email',
    verb: 'create', arguments: {}, argumentsDigest: `sha256:${'0'.repeat(64)}`, approvers: ['sre'], quorum: 1, expiresAt: '2030-01-01T00:15:00Z',
  },
  status,
});

describe('outcomeError', () => {
  it('pending: approvalRequired with the reference and the command that approves it', () => {
    const { httpStatus, error } = outcomeError({ kind: 'pending', request: request() }, verdict);
    expect(httpStatus).toBe(403);
    expect(error.code).toBe(ErrorCodes.approvalRequired);
    expect(error.message).toContain('kubectl mcp approve ar-1 -n team-a');
    expect(error.data).toMatchObject({ decisionId: 'd-1', rule: 'external-mail', approval: { namespace: 'team-a', name: 'ar-1' }, phase: 'Pending', approve: 'kubectl mcp approve ar-1 -n team-a' });
  });

  it('denied: names every denier and their reason', () => {
    const { error } = outcomeError({ kind: 'denied', request: request({ phase: 'Denied', decisions: [
      { user: 'ann', decision: 'approve', time: '2030-01-01T00:01:00Z' },
      { user: 'bob', decision: 'deny', reason: 'wrong recipient', time: '2030-01-01T00:02:00Z' },
    ] }) }, verdict);
    expect(error.code).toBe(ErrorCodes.approvalDenied);
    expect(error.message).toBe('call denied by bob ("wrong recipient") (approval request team-a/ar-1, rule "external-mail")');
    expect(error.data).toMatchObject({ deniedBy: [{ user: 'bob', reason: 'wrong recipient' }] });
  });

  it('expired, released elsewhere and failures have their own codes', () => {
    expect(outcomeError({ kind: 'expired', request: request({ phase: 'Expired' }) }, verdict).error).toMatchObject({ code: ErrorCodes.approvalExpired, message: expect.stringContaining('expired unapproved at 2030-01-01T00:15:00Z') });
    const released = outcomeError({ kind: 'alreadyReleased', request: request({ phase: 'Consumed' }), consumedBy: 'authorizer-b' }, verdict);
    expect(released).toMatchObject({ httpStatus: 409, error: { code: ErrorCodes.alreadyReleased, data: { consumedBy: 'authorizer-b' } } });
    expect(released.error.message).toContain('already released elsewhere (by authorizer-b)');
    expect(outcomeError({ kind: 'failed', message: 'API server unreachable' }, verdict)).toMatchObject({ httpStatus: 503, error: { code: ErrorCodes.policyUnavailable, message: 'approval unavailable, call refused: API server unreachable' } });
  });

  it('superseded: 409 asking to retry under the policy in force, or the new denial when the policy now denies', () => {
    const retry = outcomeError({ kind: 'superseded', request: request({ phase: 'Superseded' }), message: 'policy team-a/agents revision rev-10 requires 2 approvals from security', verdict: { ...verdict, revision: 'rev-10' } }, verdict);
    expect(retry.httpStatus).toBe(409);
    expect(retry.error.message).toContain('approval request team-a/ar-1 was superseded (policy team-a/agents revision rev-10 requires 2 approvals from security); retry the call');
    expect(retry.error.data).toMatchObject({ phase: 'Superseded', revision: 'rev-10' });
    const denied = outcomeError({
      kind: 'superseded', request: request(), message: 'policy team-a/agents revision rev-10 denies the call',
      verdict: { ...verdict, revision: 'rev-10', effect: 'deny', decision: { ...decision, action: 'deny', rule: 'no-mail', reasons: ['no mail today'] } },
    }, verdict);
    // A denial of a request is answered 200 with the JSON-RPC error (gate/README.md), as verdictError answers it.
    expect(denied.httpStatus).toBe(200);
    expect(denied.error.code).toBe(ErrorCodes.policyDenied);
    expect(denied.error.message).toContain('denied by rule "no-mail": no mail today (the policy changed while the call waited for approval');
  });

  it('untrusted: refused, saying the request cannot be trusted and why', () => {
    const { httpStatus, error } = outcomeError({ kind: 'untrusted', request: request(), message: 'spec.approvers is ["interns"], expected ["sre"]' }, verdict);
    expect(httpStatus).toBe(403);
    expect(error.code).toBe(ErrorCodes.approvalDenied);
    expect(error.message).toContain('approval request team-a/ar-1 cannot be trusted (spec.approvers is ["interns"], expected ["sre"])');
  });
});
