// What the approval coordinator needs from the policies in force: whether the bundle that decided
// a held call is still the one in force, the call decided afresh when it is not, and the
// Kubernetes usernames the policy says the caller is known by.
import type { PolicyRouter } from '../gate/policy-router.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { kubernetesUsernamesOf } from './kubernetes-usernames.ts';

export interface ApprovalPolicy {
  /** The bundle revision in force for the call's server now ('' when none is loaded). */
  revisionFor(call: ToolCall): string;
  /** The call decided under the revision in force (a real decision: metered and audited). */
  decide(call: ToolCall): Verdict;
  /** The policy's identity.kubernetesUsernames applied to the caller. */
  kubernetesUsernames(call: ToolCall): string[];
}

/**
 * `decide` is the gate's decision (decisionPath.decide): passed as a function because the gate
 * is built with the coordinator, so it does not exist yet when the coordinator does.
 */
export function approvalPolicy(router: PolicyRouter, decide: (call: ToolCall) => Verdict): ApprovalPolicy {
  return {
    revisionFor(call) {
      const route = router.route(call.server);
      return route.ok ? route.entry.engine.current?.revision ?? '' : '';
    },
    decide,
    kubernetesUsernames(call) {
      const route = router.route(call.server);
      return kubernetesUsernamesOf(call.caller, route.ok ? route.entry.gateway?.identity?.kubernetesUsernames : undefined);
    },
  };
}
