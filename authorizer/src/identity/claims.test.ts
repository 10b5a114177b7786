import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../api/v1alpha1/index.ts';
import { AuthenticationError } from './errors.ts';
import { agentOf, claimAt, forbiddenScopesIn, operatorOf, rolesFor, scopesOf, toCallerIdentity } from './claims.ts';

const identity: Identity = {
  issuer: 'https://idp.example',
  audience: 'https://gw.example/mcp',
  roles: [
    { name: 'mail-agent', subjects: ['agent-mailer'] },
    { name: 'support', subjects: ['user:alice'] },
    { name: 'finance', claimValues: ['finance', 'cfo'] },
    { name: 'nobody', subjects: ['someone-else'], claimValues: ['nope'] },
  ],
};

describe('claimAt', () => {
  it('walks dotted paths into objects', () => {
    expect(claimAt({ act: { sub: 'user:bob' } }, 'act.sub')).toBe('user:bob');
    expect(claimAt({ realm_access: { roles: ['a'] } }, 'realm_access.roles')).toEqual(['a']);
  });
  it('prefers a claim whose name contains dots', () => {
    expect(claimAt({ 'https://x.example/roles': ['r'], https: { '//x': 1 } }, 'https://x.example/roles')).toEqual(['r']);
  });
  it('stops at arrays, primitives and inherited properties', () => {
    expect(claimAt({ a: ['x'] }, 'a.0')).toBeUndefined();
    expect(claimAt({ a: 'str' }, 'a.length')).toBeUndefined();
    expect(claimAt({ a: {} }, 'a.constructor')).toBeUndefined();
    expect(claimAt({}, '__proto__.polluted')).toBeUndefined();
  });
});

describe('scopes', () => {
  it('reads space-separated scope and array or string scp, without duplicates', () => {
    expect(scopesOf({ scope: 'mail:read  mail:send' })).toEqual(['mail:read', 'mail:send']);
    expect(scopesOf({ scp: ['a', 'b', 3] })).toEqual(['a', 'b']);
    expect(scopesOf({ scope: 'a b', scp: 'b c' })).toEqual(['a', 'b', 'c']);
    expect(scopesOf({ scope: 42 })).toEqual([]);
  });
  it('finds forbidden scopes', () => {
    expect(forbiddenScopesIn(['mail:read', 'admin'], ['admin', 'full_access'])).toEqual(['admin']);
    expect(forbiddenScopesIn(['admin'], undefined)).toEqual([]);
  });
});

describe('agent and operator', () => {
  it('takes the agent from azp, then client_id, unless a claim is configured', () => {
    expect(agentOf({ azp: 'a1', client_id: 'c1' })).toBe('a1');
    expect(agentOf({ client_id: 'c1' })).toBe('c1');
    expect(agentOf({ azp: '', client_id: 'c1' })).toBe('c1');
    expect(agentOf({ azp: 'a1', agent: 'x' }, 'agent')).toBe('x');
    expect(agentOf({ client_id: 'c1' }, 'agent')).toBeUndefined();
  });
  it('takes the operator from sub by default, or a dotted claim', () => {
    expect(operatorOf({ sub: 'u' })).toBe('u');
    expect(operatorOf({ sub: 'svc', act: { sub: 'user:bob' } }, 'act.sub')).toBe('user:bob');
    expect(operatorOf({ act: { sub: 7 } }, 'act.sub')).toBeUndefined();
  });
});

describe('rolesFor', () => {
  it('grants a role to the agent, the operator, the subject or a roles-claim value', () => {
    expect(rolesFor(identity.roles, { agent: 'agent-mailer', claimValues: [] })).toEqual(['mail-agent']);
    expect(rolesFor(identity.roles, { operator: 'user:alice', claimValues: [] })).toEqual(['support']);
    expect(rolesFor(identity.roles, { subject: 'user:alice', claimValues: [] })).toEqual(['support']);
    expect(rolesFor(identity.roles, { agent: 'agent-mailer', operator: 'user:alice', claimValues: ['cfo'] })).toEqual(['mail-agent', 'support', 'finance']);
  });
  it('grants nothing to strangers or without roles', () => {
    expect(rolesFor(identity.roles, { agent: 'x', operator: 'y', claimValues: ['z'] })).toEqual([]);
    expect(rolesFor(undefined, { agent: 'agent-mailer', claimValues: [] })).toEqual([]);
  });
});

describe('toCallerIdentity', () => {
  it('maps every field', () => {
    const c = toCallerIdentity({ ...identity, operatorClaim: 'act.sub', rolesClaim: 'groups' }, {
      iss: 'https://idp.example', sub: 'svc', azp: 'agent-mailer', act: { sub: 'user:alice' },
      groups: 'finance', scope: 'mail:send', exp: 1_900_000_000, jti: 'j1',
    });
    expect(c).toEqual({
      subject: 'svc', issuer: 'https://idp.example', agent: 'agent-mailer', operator: 'user:alice',
      roles: ['mail-agent', 'support', 'finance'], scopes: ['mail:send'], expiresAt: new Date(1_900_000_000_000), tokenId: 'j1',
    });
  });
  it('requires a string sub', () => {
    expect(() => toCallerIdentity(identity, { iss: 'x', sub: 5 })).toThrow(AuthenticationError);
    expect(() => toCallerIdentity(identity, { iss: 'x' })).toThrow(/sub is missing/);
  });
});
