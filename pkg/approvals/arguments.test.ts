import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { argumentsObjectName, verifyArguments } from './arguments.ts';
import { argumentsDigest, canonicalArguments, digestOfCanonical } from './digest.ts';

const args = { to: 'bob@example.com', token: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', n: [1, 2.5, { z: null, a: true }] };
const request = (digest = argumentsDigest(args)): ApprovalRequest => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name: 'ar-1', namespace: 'team-a', uid: 'u-1' },
  spec: {
    requester: { agent: 'agent-1' }, policyRef: { namespace: 'team-a', name: 'p' }, rule: 'r', server: 's', tool: 't', verb: 'create',
    arguments: {}, argumentsDigest: digest, approvers: ['sre'], quorum: 1, expiresAt: '2030-01-01T00:00:00Z',
  },
});
const stored = (canonical: string, owner = 'u-1') => ({
  metadata: { ownerReferences: [{ apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', name: 'ar-1', uid: owner }] }, spec: { argumentsDigest: argumentsDigest(args), canonical },
});

describe('argumentsDigest', () => {
  it('is the sha256 of the canonical text: the same function for the authorizer and for kubectl mcp show', () => {
    expect(canonicalArguments(args)).toBe('{"n":[1,2.5,{"a":true,"z":null}],"to":"bob@example.com","token":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}');
    expect(argumentsDigest(args)).toBe(digestOfCanonical(canonicalArguments(args)));
    expect(argumentsDigest(undefined)).toBe(argumentsDigest({}));
    expect(argumentsDigest({ a: 1 })).not.toBe(argumentsDigest({ a: 2 }));
  });
});

describe('verifyArguments', () => {
  it('returns the stored text when it is the request\'s and hashes to its digest', () => {
    expect(argumentsObjectName(request())).toBe('ar-1-u-1');
    expect(verifyArguments(request(), stored(canonicalArguments(args)))).toEqual({ ok: true, text: canonicalArguments(args) });
  });

  it('refuses other arguments (whatever their copy of the digest says) or another owner, saying which', () => {
    const other = canonicalArguments({ ...args, to: 'eve@evil.example' });
    expect(verifyArguments(request(), stored(other))).toEqual({
      ok: false, problem: `the arguments in ApprovalArguments ar-1-u-1 hash to ${digestOfCanonical(other)}, but the request binds ${argumentsDigest(args)}: they are not what is being approved`,
    });
    // Same values, different bytes (whitespace): still not the bytes that were digested.
    expect(verifyArguments(request(), stored(JSON.stringify(JSON.parse(canonicalArguments(args)), null, 2))).ok).toBe(false);
    expect(verifyArguments(request(), stored(canonicalArguments(args), 'u-2')))
      .toEqual({ ok: false, problem: 'ApprovalArguments ar-1-u-1 is not owned by ApprovalRequest ar-1 (uid u-1)' });
  });
});
