// toolgate's shipped RBAC and admission policy as an install of its own, for tests that run the
// operator and the authorizer as their service accounts with exactly what config/ grants. It
// does what the chart does with a release namespace: every `toolgate-system` becomes the install
// namespace (metadata, subjects, service-account usernames) and the governed-namespace RBAC is
// copied into each governed namespace. Cluster-scoped names (ClusterRoles and their bindings,
// the admission policy and binding) get a suffix, so parallel test files never share one; the
// admission binding is restricted to the governed namespaces (the shipped one guards all).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeClient, ResourceRef } from '../../pkg/kube/client.ts';

const root = join(import.meta.dirname, '..', '..');
const shippedNamespace = 'toolgate-system';
const governedLabel = 'toolgate.io/rbac';
const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
const admissionResources = new Set(['validatingadmissionpolicies', 'validatingadmissionpolicybindings']);

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

export interface InstallOptions {
  /** Stands in for toolgate-system. */
  namespace: string;
  /** Namespaces whose McpSecurityPolicies (and so ApprovalRequests) the install governs. */
  governed: readonly string[];
  /** Appended to every cluster-scoped name. */
  suffix: string;
}

/** The documents of a file under config/. */
export function configDocs(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(root, 'config', file), 'utf8')).map((d) => d.toJS() as Manifest).filter(Boolean);
}

/** The files a kustomization under config/ lists. */
function kustomized(dir: string): string[] {
  const k = configDocs(`${dir}/kustomization.yaml`)[0] as unknown as { resources: string[] };
  return k.resources.filter((r) => r.endsWith('.yaml')).map((r) => `${dir}/${r}`);
}

const suffixed = (name: string, o: InstallOptions) => `${name}-${o.suffix}`;

/** One shipped object as installed (several for a governed-namespace one). */
export function installed(doc: Manifest, o: InstallOptions): Manifest[] {
  const rewrite = (v: unknown, key?: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => rewrite(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x, k)]));
    if (key === 'namespace' && v === shippedNamespace) return o.namespace;
    if (typeof v === 'string') return v.split(`system:serviceaccount:${shippedNamespace}:`).join(`system:serviceaccount:${o.namespace}:`).split(`.${shippedNamespace}.svc`).join(`.${o.namespace}.svc`);
    return v;
  };
  const obj = rewrite(doc) as Manifest & { roleRef?: { kind: string; name: string }; spec?: { policyName?: string }; rules?: Array<{ resources?: string[]; resourceNames?: string[] }> };
  if (clusterScoped.has(obj.kind)) obj.metadata.name = suffixed(obj.metadata.name, o);
  if (obj.roleRef?.kind === 'ClusterRole') obj.roleRef.name = suffixed(obj.roleRef.name, o);
  if (obj.kind === 'ValidatingAdmissionPolicyBinding' && obj.spec?.policyName) obj.spec.policyName = suffixed(obj.spec.policyName, o);
  for (const rule of obj.rules ?? []) {
    if (rule.resources?.some((r) => admissionResources.has(r)) && rule.resourceNames) rule.resourceNames = rule.resourceNames.map((n) => suffixed(n, o));
  }
  if (obj.metadata.labels?.[governedLabel] !== 'governed-namespace') return [obj];
  return o.governed.map((ns) => ({ ...structuredClone(obj), metadata: { ...structuredClone(obj.metadata), namespace: ns } }));
}

/** Every RBAC object config/rbac and config/authorizer ship (service accounts included), installed. */
export function shippedRbac(o: InstallOptions): Manifest[] {
  const files = [...kustomized('rbac'), ...kustomized('authorizer')];
  return files.flatMap(configDocs).filter((d) => d.apiVersion.startsWith('rbac.authorization.k8s.io/') || d.kind === 'ServiceAccount').flatMap((d) => installed(d, o));
}

/**
 * Only the governed-namespace RBAC (operator and authorizer), copied into `governed`, for the
 * shipped toolgate-system service accounts: what a kustomize user copies per namespace.
 */
export function governedRbac(governed: readonly string[]): Manifest[] {
  return [...kustomized('rbac'), ...kustomized('authorizer')].flatMap(configDocs)
    .filter((d) => d.metadata.labels?.[governedLabel] === 'governed-namespace')
    .flatMap((d) => governed.map((ns) => ({ ...structuredClone(d), metadata: { ...structuredClone(d.metadata), namespace: ns } })));
}

/** The shipped admission policy and its binding, installed; the binding covers the governed namespaces only. */
export function shippedAdmission(o: InstallOptions): Manifest[] {
  return kustomized('admission').flatMap(configDocs).flatMap((d) => installed(d, o)).map((d) => d.kind !== 'ValidatingAdmissionPolicyBinding' ? d : {
    ...d,
    spec: { ...(d.spec as object), matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...o.governed] }] } } },
  });
}

/** The names the installed admission objects carry (for the authorizer's APPROVAL_ADMISSION_* settings). */
export function admissionNames(o: InstallOptions): { policy: string; binding: string } {
  const [policy, binding] = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].map((kind) => shippedAdmission(o).find((d) => d.kind === kind)!.metadata.name);
  return { policy: policy!, binding: binding! };
}

export function refOf(o: Manifest): ResourceRef {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') as [string, string] : ['', o.apiVersion];
  const kind = o.kind.toLowerCase();
  const plural = kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`;
  return { group, version, plural, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name };
}

export async function applyAll(admin: KubeClient, objs: readonly Manifest[], fieldManager: string): Promise<void> {
  for (const o of objs) await admin.apply(refOf(o), o, fieldManager);
}

/** Deletes what applyAll created (namespaced objects go with their namespace anyway). */
export async function deleteAll(admin: KubeClient, objs: readonly Manifest[]): Promise<void> {
  await Promise.all(objs.map((o) => admin.delete(refOf(o)).catch(() => undefined)));
}
