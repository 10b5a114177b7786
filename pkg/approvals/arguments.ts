// The full arguments of a held call, kept beside its ApprovalRequest. The request itself (and
// every log line) shows them redacted; approvers must still be able to see exactly what they
// approve. The authorizer stores the canonical JSON it digested in an immutable Secret owned by
// the request, readable through a Role bound to the request's approver groups only (both owned
// by the request too, so all three go when it goes); `kubectl mcp show` reads it back and shows
// it only if its bytes hash to the digest the request binds.
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { digestOfCanonical } from './digest.ts';

export const argumentsKey = 'arguments.json';
export const argumentsSecretType = 'toolgate.io/approval-arguments';
/** On the Secret, Role and RoleBinding: the request they belong to (for people's selectors). */
export const approvalLabel = 'toolgate.io/approval-request';

/**
 * `<request name>-<request uid>`: one per incarnation of a name, so a request replaced under the
 * same name never finds its predecessor's Secret (still waiting for garbage collection).
 */
export function argumentsSecretName(ar: ApprovalRequest): string {
  const { name, uid } = ar.metadata;
  if (!name || !uid) throw new Error('an ApprovalRequest without a name and uid has no arguments Secret');
  return `${name}-${uid}`;
}

export interface SecretLike {
  type?: string;
  metadata?: { ownerReferences?: Array<{ kind?: string; uid?: string; apiVersion?: string }> };
  data?: Record<string, string>;
}

export type ArgumentsCheck = { ok: true; text: string } | { ok: false; problem: string };

/** The canonical arguments in `secret`, if it belongs to `ar` and its bytes are what `ar` binds. */
export function verifyArgumentsSecret(ar: ApprovalRequest, secret: SecretLike): ArgumentsCheck {
  const name = argumentsSecretName(ar);
  if (secret.type !== argumentsSecretType) return { ok: false, problem: `Secret ${name} has type ${JSON.stringify(secret.type ?? '')}, not ${argumentsSecretType}` };
  const owned = (secret.metadata?.ownerReferences ?? []).some((o) => o.kind === 'ApprovalRequest' && o.uid === ar.metadata.uid);
  if (!owned) return { ok: false, problem: `Secret ${name} is not owned by ApprovalRequest ${ar.metadata.name} (uid ${ar.metadata.uid})` };
  const encoded = secret.data?.[argumentsKey];
  if (encoded === undefined) return { ok: false, problem: `Secret ${name} has no ${argumentsKey}` };
  const bytes = Buffer.from(encoded, 'base64');
  const digest = digestOfCanonical(bytes);
  if (digest !== ar.spec.argumentsDigest) {
    return { ok: false, problem: `the arguments in Secret ${name} hash to ${digest}, but the request binds ${ar.spec.argumentsDigest}: they are not what is being approved` };
  }
  return { ok: true, text: bytes.toString('utf8') };
}
