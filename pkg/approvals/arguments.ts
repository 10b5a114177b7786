// The full arguments of a held call, kept beside its ApprovalRequest. The request itself (and
// every log line) shows them redacted; approvers must still be able to see exactly what they
// approve. The authorizer stores the canonical JSON it digested in an ApprovalArguments object
// owned by the request, readable through a Role bound to the request's approver groups only
// (Role and RoleBinding owned by the request too, so all three go when it goes); `kubectl mcp
// show` reads it back and shows it only if its bytes hash to the digest the request binds.
//
// Why not a Secret: a Role granting `get` on one Secret may only be created by someone who can
// already get that Secret (RBAC escalation prevention), and Secret names cannot be granted ahead
// of time, so the authorizer would need every Secret of every governed namespace. It needs only
// its own kind this way.
import type { ApprovalArguments, ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { digestOfCanonical } from './digest.ts';

export const approvalArgumentsResource = { group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalarguments' } as const;
/** On the ApprovalArguments, Role and RoleBinding: the request they belong to (for people's selectors). */
export const approvalLabel = 'toolgate.io/approval-request';

/**
 * `<request name>-<request uid>`: one per incarnation of a name, so a request replaced under the
 * same name never finds its predecessor's arguments (still waiting for garbage collection).
 */
export function argumentsObjectName(ar: ApprovalRequest): string {
  const { name, uid } = ar.metadata;
  if (!name || !uid) throw new Error('an ApprovalRequest without a name and uid has no ApprovalArguments');
  return `${name}-${uid}`;
}

export type ArgumentsCheck = { ok: true; text: string } | { ok: false; problem: string };

/** The canonical arguments in `args`, if it belongs to `ar` and its bytes are what `ar` binds. */
export function verifyArguments(ar: ApprovalRequest, args: Pick<ApprovalArguments, 'metadata' | 'spec'>): ArgumentsCheck {
  const name = argumentsObjectName(ar);
  const owned = (args.metadata.ownerReferences ?? []).some((o) => o.kind === 'ApprovalRequest' && o.uid === ar.metadata.uid);
  if (!owned) return { ok: false, problem: `ApprovalArguments ${name} is not owned by ApprovalRequest ${ar.metadata.name} (uid ${ar.metadata.uid})` };
  const text = args.spec?.canonical;
  if (typeof text !== 'string') return { ok: false, problem: `ApprovalArguments ${name} has no spec.canonical` };
  const digest = digestOfCanonical(text);
  if (digest !== ar.spec.argumentsDigest) {
    return { ok: false, problem: `the arguments in ApprovalArguments ${name} hash to ${digest}, but the request binds ${ar.spec.argumentsDigest}: they are not what is being approved` };
  }
  return { ok: true, text };
}
