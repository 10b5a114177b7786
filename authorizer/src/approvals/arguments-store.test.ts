import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { verifyArguments } from '../../../pkg/approvals/arguments.ts';
import { argumentsDigest } from '../../../pkg/approvals/digest.ts';
import { argumentsObjects } from './arguments-store.ts';

const args = { to: 'bob@example.com', apiKey: 'sk_live_abcdefghijklmnop1234' };
const request: ApprovalRequest = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name: 'ar-1', namespace: 'team-a', uid: 'u-1' },
  spec: {
    requester: { agent: 'agent-1' }, policyRef: { namespace: 'team-a', name: 'p' }, rule: 'r', server: 's', tool: 't', verb: 'create',
    arguments: { to: 'bob@example.com', apiKey: '[REDACTED]' }, argumentsDigest: argumentsDigest(args), approvers: ['sre', 'security'], quorum: 1, expiresAt: '2030-01-01T00:00:00Z',
  },
};

describe('argumentsObjects', () => {
  it('keeps the unredacted arguments for the approver groups of this request only, owned by the request', () => {
    const o = argumentsObjects(request, args);
    if ('tooLarge' in o) throw new Error('unexpectedly too large');
    const owner = [{ apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', name: 'ar-1', uid: 'u-1', controller: true }];
    expect(verifyArguments(request, o.arguments)).toEqual({ ok: true, text: '{"apiKey":"sk_live_abcdefghijklmnop1234","to":"bob@example.com"}' });
    expect(o.role).toMatchObject({ metadata: { name: 'ar-1-u-1', namespace: 'team-a', ownerReferences: owner } });
    expect(o.role.rules).toEqual([{ apiGroups: ['toolgate.io'], resources: ['approvalarguments'], resourceNames: ['ar-1-u-1'], verbs: ['get'] }]);
    expect(o.binding).toMatchObject({ metadata: { ownerReferences: owner }, roleRef: { kind: 'Role', name: 'ar-1-u-1' } });
    expect(o.binding.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre' }, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'security' },
    ]);
  });

  it('does not store arguments too large for an object', () => {
    expect(argumentsObjects(request, { text: 'x'.repeat(600_000) })).toEqual({ tooLarge: 600_011 });
  });
});
