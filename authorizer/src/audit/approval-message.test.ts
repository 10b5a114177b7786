// An approval record says why a held call was not released for every outcome that has a reason:
// failed, and (issue 10) untrusted and superseded requests, which were recorded without it.
import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { approvalBody, recordContext } from './record.ts';

const ctx = recordContext({ instance: 'test', digestKey: Buffer.alloc(32, 1) });

const call: ToolCall = { server: 's', tool: 't', arguments: { a: 1 }, caller: { subject: 'alice', issuer: 'i', roles: [], scopes: [] }, frontEnd: 'proxy' };
const verdict = { decisionId: 'd-1', revision: 'rev-1', effect: 'hold', decision: { action: 'require_approval', rule: 'r', reasons: [], approvers: ['sre'], quorum: 1 } } as unknown as Verdict;
const request = { metadata: { namespace: 'ns', name: 'ar-1' }, spec: {}, status: {} } as unknown as ApprovalRequest;

describe('approval records', () => {
  it('carry the reason of failed, untrusted and superseded outcomes', () => {
    expect(approvalBody({ mode: 'hold', outcome: { kind: 'failed', message: 'API server down' }, call, verdict }, ctx).body.message).toBe('API server down');
    expect(approvalBody({ mode: 'hold', outcome: { kind: 'untrusted', message: 'spec.approvers differ', request }, call, verdict }, ctx).body.message).toBe('spec.approvers differ');
    expect(approvalBody({ mode: 'hold', outcome: { kind: 'superseded', message: 'rule changed', request }, call, verdict }, ctx).body.message).toBe('rule changed');
    expect(approvalBody({ mode: 'hold', outcome: { kind: 'released', request }, call, verdict }, ctx).body.message).toBeUndefined();
  });
});
