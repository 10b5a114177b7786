// The contract between authorizers and the operator for per-pod status (Gatekeeper's pattern,
// without a CRD): each authorizer pod keeps a coordination.k8s.io Lease with this label, and
// this annotation maps every policy it enforces ("<namespace>/<name>") to the bundle revision
// it loaded, as JSON. The operator aggregates them into the policy's Distributed condition.
export const authorizerLeaseLabel = 'toolgate.io/authorizer';
export const authorizerLeaseSelector = `${authorizerLeaseLabel}=true`;
export const bundleRevisionsAnnotation = 'toolgate.io/bundle-revisions';
