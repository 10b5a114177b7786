// What a policy's bundle is built from; its revision is the hash of exactly this. The operator
// builds and serves it; `kubectl mcp explain` computes the same revision to show that what it
// evaluated is what authorizers enforce.
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import type { CompiledData } from '../policy/compiler/index.ts';
import type { BundleInputs } from './bundle.ts';

export const bundleRoots = ['toolgate'] as const;
export const bundleEntrypoints = ['toolgate/decision', 'toolgate/classification'] as const;

export function bundleInputsFor(policy: McpSecurityPolicy, data: CompiledData, policyWasm: Uint8Array): BundleInputs {
  return {
    data: data as unknown as Record<string, unknown>,
    wasm: policyWasm,
    entrypoints: bundleEntrypoints,
    roots: bundleRoots,
    metadata: { policy: { namespace: policy.metadata.namespace ?? '', name: policy.metadata.name ?? '' } },
  };
}
