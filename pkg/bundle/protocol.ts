// The bundle service's wire contract, shared by the operator that serves bundles and the
// authorizer that pulls them (OPA's bundle protocol: long polling answers with its own type).
export const longPollContentType = 'application/vnd.openpolicyagent.bundles';
export const bundleContentType = 'application/gzip';
