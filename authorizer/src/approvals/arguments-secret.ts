// Stores a held call's full arguments for its approvers (see pkg/approvals/arguments.ts): an
// immutable Secret with the canonical JSON the digest covers, and a Role + RoleBinding that let
// the request's approver groups, and nobody else, get that one Secret. All three carry an
// ownerReference to the request, so the garbage collector removes them with it.
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { approvalLabel, argumentsKey, argumentsSecretName, argumentsSecretType } from '../../../pkg/approvals/arguments.ts';
import { canonicalArguments } from '../../../pkg/approvals/digest.ts';
import { isAlreadyExists, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { managedByLabel, managedByValue } from './request.ts';

/** Secrets hold at most 1 MiB; arguments above this are not stored (approvers see the redacted copy only). */
export const maxStoredArgumentsBytes = 512 * 1024;

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<string, unknown>;

function owner(ar: ApprovalRequest) {
  return { apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', name: ar.metadata.name ?? '', uid: ar.metadata.uid ?? '', controller: true };
}

function meta(ar: ApprovalRequest, name: string) {
  return {
    name, namespace: ar.metadata.namespace,
    labels: { [managedByLabel]: managedByValue, [approvalLabel]: ar.metadata.name ?? '' },
    ownerReferences: [owner(ar)],
  };
}

/** The Secret, Role and RoleBinding for `ar`, whose call had `args`; undefined when too large to store. */
export function argumentsObjects(ar: ApprovalRequest, args: Record<string, unknown> | undefined): { secret: Obj; role: Obj; binding: Obj } | { tooLarge: number } {
  const text = canonicalArguments(args);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxStoredArgumentsBytes) return { tooLarge: bytes };
  const name = argumentsSecretName(ar);
  return {
    secret: {
      apiVersion: 'v1', kind: 'Secret', metadata: { ...meta(ar, name), annotations: { 'toolgate.io/arguments-digest': ar.spec.argumentsDigest } },
      type: argumentsSecretType, immutable: true, data: { [argumentsKey]: Buffer.from(text).toString('base64') },
    },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(ar, name),
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [name], verbs: ['get'] }],
    },
    binding: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(ar, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: ar.spec.approvers.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
    },
  };
}

const refs = {
  secret: (ns: string): ResourceRef => ({ group: '', version: 'v1', plural: 'secrets', namespace: ns }),
  role: (ns: string): ResourceRef => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespace: ns }),
  binding: (ns: string): ResourceRef => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespace: ns }),
};

/**
 * Creates the three objects (each create that finds its object already there counts as done: a
 * replica that reused the request may be finishing what the creator started). Resolves to what
 * was stored; rejects with the API server's refusal.
 */
export async function storeArguments(client: KubeClient, ar: ApprovalRequest, args: Record<string, unknown> | undefined, fieldManager: string): Promise<{ stored: true } | { stored: false; reason: string }> {
  const objects = argumentsObjects(ar, args);
  if ('tooLarge' in objects) return { stored: false, reason: `the arguments are ${objects.tooLarge} bytes, above the ${maxStoredArgumentsBytes} stored for approvers` };
  const ns = ar.metadata.namespace ?? '';
  for (const [kind, body] of [['secret', objects.secret], ['role', objects.role], ['binding', objects.binding]] as const) {
    try {
      await client.create(refs[kind](ns), body, fieldManager);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  return { stored: true };
}
