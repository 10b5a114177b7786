// Appends a chat user's decision to an ApprovalRequest as the mapped Kubernetes identity, the way
// `kubectl mcp approve|deny` does for a person at a terminal: read (as them), check it is the
// request the button named (uid) and still open, record the user and groups the API server says
// the impersonated request has (SelfSubjectReview), replace the status with the read
// resourceVersion. The admission policy then decides, as for any person, whether they may.
import type { ApprovalRequest, Decision } from '../../../api/v1alpha1/index.ts';
import { isConflict, isNotFound, KubeError, type KubeClient } from '../../../pkg/kube/client.ts';
import type { ApprovalTarget } from './slack-interaction.ts';

export const chatFieldManager = 'toolgate-chat';
const terminal = ['Approved', 'Denied', 'Expired', 'Consumed', 'Superseded'];

export type WriteOutcome =
  | { kind: 'written'; request: ApprovalRequest; username: string }
  /** Ours to refuse before writing (gone, another request, already ended, decided twice). */
  | { kind: 'stale'; message: string; request?: ApprovalRequest }
  /** The API server refused (RBAC or the admission policy): its own words. */
  | { kind: 'refused'; code: number; message: string; request?: ApprovalRequest };

const ref = (t: ApprovalTarget, subresource?: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: t.namespace, name: t.name, ...(subresource ? { subresource } : {}) });

async function whoAmI(client: KubeClient): Promise<{ username: string; groups: string[] }> {
  const review = await client.request<{ status?: { userInfo?: { username?: string; groups?: string[] } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  const info = review.status?.userInfo;
  if (!info?.username) throw new Error('SelfSubjectReview returned no username');
  return { username: info.username, groups: [...new Set(info.groups ?? [])] };
}

export async function writeDecision(asPerson: KubeClient, target: ApprovalTarget, decision: 'approve' | 'deny', reason: string, now = () => new Date()): Promise<WriteOutcome> {
  const refusedBy = (e: unknown, request?: ApprovalRequest): WriteOutcome => {
    if (e instanceof KubeError && (e.code === 403 || e.code === 422 || e.code === 400)) return { kind: 'refused', code: e.code, message: e.message, ...(request ? { request } : {}) };
    throw e;
  };
  let ar: ApprovalRequest;
  try {
    ar = await asPerson.get<ApprovalRequest>(ref(target));
  } catch (e) {
    if (isNotFound(e)) return { kind: 'stale', message: `approvalrequest ${target.namespace}/${target.name} no longer exists` };
    return refusedBy(e);
  }
  const me = await whoAmI(asPerson);
  for (let attempt = 1; ; attempt++) {
    if (ar.metadata.uid !== target.uid) return { kind: 'stale', message: `approvalrequest ${target.namespace}/${target.name} is not the one this message was about (it was recreated)` };
    const phase = ar.status?.phase ?? 'Pending';
    if (terminal.includes(phase)) return { kind: 'stale', message: `approvalrequest ${target.name} is already ${phase}`, request: ar };
    if (Date.parse(ar.spec.expiresAt) <= now().getTime()) return { kind: 'stale', message: `approvalrequest ${target.name} expired at ${ar.spec.expiresAt}`, request: ar };
    const earlier = ar.status?.decisions?.find((d) => d.user === me.username && d.decision === decision);
    if (earlier) return { kind: 'stale', message: `${me.username} already ${decision === 'approve' ? 'approved' : 'denied'} at ${earlier.time}`, request: ar };
    const entry: Decision = {
      user: me.username, ...(me.groups.length ? { groups: me.groups } : {}), decision, reason,
      time: now().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    try {
      const written = await asPerson.replace<ApprovalRequest>(ref(target, 'status'), { ...ar, status: { ...ar.status, decisions: [...(ar.status?.decisions ?? []), entry] } }, chatFieldManager);
      return { kind: 'written', request: written, username: me.username };
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) return refusedBy(e, ar);
      ar = await asPerson.get<ApprovalRequest>(ref(target));
    }
  }
}
