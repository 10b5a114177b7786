// The authorizer's bundle side: pull, verify and load the operator's policy bundles, and
// report the revisions in force (metrics, logs, a Lease per pod).
export { BundleClient, type BundleClientOptions, type BundleLoaded } from './client.ts';
export { BundleClients, type BundleClientsOptions, type RevisionSink } from './clients.ts';
export { RevisionReporter, leaseName, revisionsValue, type RevisionReporterOptions } from './reporter.ts';
export { createBundleClientMetrics, type BundleClientMetrics } from './metrics.ts';
export { FileSource, type FileSourceOptions } from './file-source.ts';
export { bundleUrl, etagRevision, gatewayConfigOf, parseBundleName, refusalReason } from './parse.ts';
