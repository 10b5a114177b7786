// The shared setup of the held-call test files: identities, the shipped admission policy bound to
// the namespace, approvers, the operator, the upstream (behind a recorder) and the policy.
// Each file calls startApprovalRig in beforeAll.
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { approvalPolicy, approver, approverRbac, bindAdmission, identities, startTestOperator, type Approver } from './approvals-e2e-support.ts';
import { audience, startEverything, startUpstreamTap, type EverythingServer, type UpstreamTap } from './proxy-support.ts';

export interface ApprovalRig {
  ids: Awaited<ReturnType<typeof identities>>;
  operator: RunningOperator;
  issuer: TestIssuer;
  everything: EverythingServer;
  recorder: UpstreamTap;
  policy: McpSecurityPolicy;
  /** sre */
  ann: Approver;
  /** sre, security */
  bob: Approver;
  /** security */
  cat: Approver;
  /** The requester: agent-1 acting for alice. */
  token(): Promise<string>;
  /** Upstream tools/call of `tool` whose arguments include these. */
  upstreamCalls(tool: string, args: Record<string, unknown>): number;
  /** Deletes the admission binding for the namespace (defence-in-depth tests). */
  unbindAdmission(): Promise<void>;
  close(): Promise<void>;
}

export async function startApprovalRig(namespace: string): Promise<ApprovalRig> {
  const ids = await identities(namespace);
  await approverRbac(namespace, ['sre', 'security']);
  const [ann, bob, cat] = await Promise.all([approver('ann', ['sre']), approver('bob', ['sre', 'security']), approver('cat', ['security'])]);
  const unbind = await bindAdmission(namespace);
  const operator = await startTestOperator(ids.operator, namespace);
  const issuer = await startJwtIssuer({ audience });
  const everything = await startEverything();
  const recorder = await startUpstreamTap(everything.url);
  return {
    ids, operator, issuer, everything, recorder, ann, bob, cat,
    policy: approvalPolicy(namespace, recorder.url, issuer),
    token: () => issuer.mint({ sub: 'alice', azp: 'agent-1' }),
    upstreamCalls: (tool, args) => recorder.calls.filter((c) => c.name === tool && Object.entries(args).every(([k, v]) => JSON.stringify(c.arguments[k]) === JSON.stringify(v))).length,
    unbindAdmission: unbind,
    async close() {
      await operator.stop();
      await unbind();
      await Promise.all([recorder.close(), everything.close(), issuer.close()]);
    },
  };
}
