// Human approval of held tool calls: ApprovalRequests created, watched and consumed exactly once.
export { ApprovalCoordinator, UntrustedApprovalError, approvalResource, defaultFieldManager, type ApprovalCoordinatorOptions, type ApprovalMode } from './coordinator.ts';
export { approvalPolicy, type ApprovalPolicy } from './policy.ts';
export { kubernetesUsernamesOf } from './kubernetes-usernames.ts';
export { argumentsObjects, storeArguments } from './arguments-store.ts';
export { approvalRef, approveCommand, outcomeError, type Outcome, type OutcomeKind } from './outcome.ts';
export {
  approvalName, approvalSelector, argumentsDigest, buildApprovalRequest, looksSecret, managedByLabel, managedByValue, policyLabel, redactArguments, requesterOf,
  sameCall, specMismatches, ApprovalBuildError,
} from './request.ts';
export { createApprovalMetrics, type ApprovalMetrics } from './metrics.ts';
