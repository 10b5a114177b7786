// Operator settings for tests: bundles served on a free loopback port with the real policy.wasm.
import { readFileSync } from 'node:fs';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import type { BundleServiceConfig } from '../../operator/src/operator.ts';

let wasm: Buffer | undefined;

export function operatorBundles(overrides: Partial<BundleServiceConfig> = {}): BundleServiceConfig {
  wasm ??= readFileSync(ensurePolicyWasm());
  return { policyWasm: wasm, port: 0, host: '127.0.0.1', ...overrides };
}
