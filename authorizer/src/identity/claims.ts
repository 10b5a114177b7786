// Pure mapping from a verified JWT payload to a CallerIdentity: claim lookup (dotted paths),
// scopes, the agent and human-operator identities, and the roles they hold.
import type { Identity } from '../../../api/v1alpha1/index.ts';
import type { CallerIdentity } from '../gate/types.ts';
import { invalidToken } from './errors.ts';

export type Claims = Record<string, unknown>;

export const defaultAgentClaims = ['azp', 'client_id'] as const;
export const defaultOperatorClaim = 'sub';
export const defaultRolesClaim = 'roles';

/**
 * The value at `path`. A claim whose name itself contains dots (namespaced claims such as
 * `https://example.com/roles`) wins over the dotted walk into objects (`act.sub`,
 * `realm_access.roles`).
 */
export function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** A non-empty string claim, else undefined (numbers and objects never name a principal). */
export function stringClaim(claims: Claims, path: string): string | undefined {
  const v = claimAt(claims, path);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A claim holding one string, a space-separated string, or an array of strings. */
export function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}

/** OAuth scopes: `scope` (RFC 8693/9068, space separated) and `scp` (array, or a string in some IdPs). */
export function scopesOf(claims: Claims): string[] {
  return [...new Set([...stringList(claims.scope), ...stringList(claims.scp)])];
}

export function agentOf(claims: Claims, agentClaim?: string): string | undefined {
  for (const c of agentClaim ? [agentClaim] : defaultAgentClaims) {
    const v = stringClaim(claims, c);
    if (v) return v;
  }
  return undefined;
}

export function operatorOf(claims: Claims, operatorClaim = defaultOperatorClaim): string | undefined {
  return stringClaim(claims, operatorClaim);
}

export interface RoleSubjects {
  agent?: string;
  operator?: string;
  subject?: string;
  /** Values of the roles claim. */
  claimValues: string[];
}

/** Names of the roles held, in the order spec.identity.roles lists them. */
export function rolesFor(roles: Identity['roles'], who: RoleSubjects): string[] {
  const principals = new Set([who.agent, who.operator, who.subject].filter((s): s is string => !!s));
  const values = new Set(who.claimValues);
  return (roles ?? [])
    .filter((r) => (r.subjects ?? []).some((s) => principals.has(s)) || (r.claimValues ?? []).some((v) => values.has(v)))
    .map((r) => r.name);
}

/** Forbidden scopes the token carries. */
export function forbiddenScopesIn(scopes: readonly string[], forbidden: readonly string[] | undefined): string[] {
  const f = new Set(forbidden ?? []);
  return scopes.filter((s) => f.has(s));
}

/** The CallerIdentity of a token whose signature and time claims have been verified. */
export function toCallerIdentity(identity: Identity, claims: Claims): CallerIdentity {
  const subject = stringClaim(claims, 'sub');
  if (!subject) throw invalidToken('missing_claim', 'sub is missing or not a string');
  const issuer = claims.iss as string; // checked equal to identity.issuer by the verifier
  const agent = agentOf(claims, identity.agentClaim);
  const operator = operatorOf(claims, identity.operatorClaim);
  const scopes = scopesOf(claims);
  const roles = rolesFor(identity.roles, {
    agent,
    operator,
    subject,
    claimValues: stringList(claimAt(claims, identity.rolesClaim ?? defaultRolesClaim)),
  });
  const caller: CallerIdentity = { subject, issuer, roles, scopes };
  if (agent) caller.agent = agent;
  if (operator) caller.operator = operator;
  if (typeof claims.exp === 'number') caller.expiresAt = new Date(claims.exp * 1000);
  if (typeof claims.jti === 'string' && claims.jti) caller.tokenId = claims.jti;
  return caller;
}
