// The harness's own disruption support, on a control plane of its own (stopping the shared one
// would break every other test file running in parallel).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { McpProfile } from '../../api/v1alpha1/index.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { aProfile, apply, clientFor, kubectl, uniqueName } from '../harness/kube.ts';

describe('ControlPlane', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await ControlPlane.start();
  });
  afterAll(() => cp?.stop());

  it('restarts kube-apiserver on the same port and etcd, and keeps the data', async () => {
    const server = cp.server;
    const name = uniqueName('survivor');
    const before = await apply(clientFor(cp.kubeconfigPath).client, aProfile(name).withTool({ name: 'read_email', readOnlyHint: true, verb: 'get' }).build());
    const cm = await apply(clientFor(cp.kubeconfigPath).client, {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' } as V1ObjectMeta, data: { written: 'before the restart' },
    });

    await cp.stopApiServer();
    const down = await kubectl(['get', 'mcpprofiles', '--request-timeout=5s'], { kubeconfig: cp.kubeconfigPath });
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain('connection refused');

    await cp.startApiServer();
    expect(cp.server).toBe(server);
    // A fresh client: nothing cached from before the restart can answer for the server.
    const { client } = clientFor(cp.kubeconfigPath);
    const after = (await client.read({ apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name } })) as unknown as McpProfile;
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.spec).toEqual(before.spec);
    const cmAfter = await client.read<typeof cm>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' } });
    expect(cmAfter.metadata?.uid).toBe(cm.metadata?.uid);
    expect(cmAfter.data).toEqual({ written: 'before the restart' });
  });

  it('refuses to start a second kube-apiserver while one runs', async () => {
    await expect(cp.startApiServer()).rejects.toThrow('already running');
  });

  it('stop() removes its processes and temp dir, and a second stop() is harmless', async () => {
    await cp.stop();
    await cp.stop();
    expect(existsSync(cp.dir)).toBe(false);
    const res = await fetch(`${cp.server.replace('https', 'http')}/readyz`).then(() => 'answered', (err: Error) => String((err.cause as Error | undefined)?.message ?? err));
    expect(res).toContain('ECONNREFUSED');
  });
});
