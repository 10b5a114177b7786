// Stores a held call's full arguments for its approvers (see pkg/approvals/arguments.ts): an
// ApprovalArguments object with the canonical JSON the digest covers, and a Role + RoleBinding
// that let the request's approver groups, and nobody else, get that one object. All three carry
// an ownerReference to the request, so the garbage collector removes them with it.
import { maxCanonicalArgumentsBytes, type ApprovalArguments, type ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { approvalArgumentsResource, approvalLabel, argumentsObjectName } from '../../../pkg/approvals/arguments.ts';
import { canonicalArguments } from '../../../pkg/approvals/digest.ts';
import { isAlreadyExists, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { managedByLabel, managedByValue } from './request.ts';

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<string, unknown>;

function meta(ar: ApprovalRequest, name: string) {
  return {
    name, namespace: ar.metadata.namespace,
    labels: { [managedByLabel]: managedByValue, [approvalLabel]: ar.metadata.name ?? '' },
    ownerReferences: [{ apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', name: ar.metadata.name ?? '', uid: ar.metadata.uid ?? '', controller: true }],
  };
}

/** The three objects for `ar`, whose call had `args`; tooLarge when the arguments exceed what is stored. */
export function argumentsObjects(ar: ApprovalRequest, args: Record<string, unknown> | undefined): { arguments: ApprovalArguments; role: Obj; binding: Obj } | { tooLarge: number } {
  const canonical = canonicalArguments(args);
  const bytes = Buffer.byteLength(canonical);
  if (bytes > maxCanonicalArgumentsBytes) return { tooLarge: bytes };
  const name = argumentsObjectName(ar);
  return {
    arguments: { apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalArguments', metadata: meta(ar, name), spec: { argumentsDigest: ar.spec.argumentsDigest, canonical } },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(ar, name),
      rules: [{ apiGroups: [approvalArgumentsResource.group], resources: [approvalArgumentsResource.plural], resourceNames: [name], verbs: ['get'] }],
    },
    binding: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(ar, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: ar.spec.approvers.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
    },
  };
}

const rbac = (plural: string, namespace: string): ResourceRef => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, namespace });

/**
 * Creates the three objects; one found already there counts as done (a replica that reused the
 * request may be finishing what the creator started). Rejects with the API server's refusal.
 */
export async function storeArguments(client: KubeClient, ar: ApprovalRequest, args: Record<string, unknown> | undefined, fieldManager: string): Promise<{ stored: true } | { stored: false; reason: string }> {
  const objects = argumentsObjects(ar, args);
  if ('tooLarge' in objects) return { stored: false, reason: `the arguments are ${objects.tooLarge} bytes, above the ${maxCanonicalArgumentsBytes} stored for approvers` };
  const ns = ar.metadata.namespace ?? '';
  const writes: Array<[ResourceRef, unknown]> = [
    [{ ...approvalArgumentsResource, namespace: ns }, objects.arguments],
    [rbac('roles', ns), objects.role],
    [rbac('rolebindings', ns), objects.binding],
  ];
  for (const [ref, body] of writes) {
    try {
      await client.create(ref, body, fieldManager);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  return { stored: true };
}
