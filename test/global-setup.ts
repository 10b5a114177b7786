// vitest globalSetup for the integration project: one real etcd + kube-apiserver per run.
import type { TestProject } from 'vitest/node';
import { ControlPlane, type ControlPlaneEnv } from './harness/controlplane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: ControlPlaneEnv;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const cp = await ControlPlane.start();
  project.provide('controlPlane', cp.env);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  // One line in CI output proving the suite ran against the real API server, and where.
  console.log(`[toolgate] integration control plane: real kube-apiserver ${cp.version} at ${cp.server}, etcd ${cp.etcdVersion}, CRDs installed, up in ${seconds} s (${cp.dir})`);
  return () => cp.stop();
}
