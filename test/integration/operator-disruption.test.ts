// Stopping and restarting kube-apiserver mid-run: the operator's informers fail, restart with
// backoff, and it reconciles correctly afterwards. Uses its own control plane, since taking
// the shared one down would disturb the other test files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { operatorBundles } from '../harness/operator.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { waitFor } from '../harness/wait.ts';

const ns = 'default';
const ref = (name: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name });

function policy(name: string, profiles: string[] = []): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpSecurityPolicy',
    metadata: { name, namespace: ns },
    spec: {
      servers: [{ name: 'files', url: 'http://files:8080/mcp' }],
      profiles: profiles.map((p) => ({ name: p })),
      policies: [{ name: 'allow-read', priority: 10, when: { readOnlyHint: true }, action: 'allow' }],
    },
  };
}

async function readyStatus(client: KubeClient, name: string): Promise<string | undefined> {
  const p = await client.get<McpSecurityPolicy>(ref(name)).catch(() => undefined);
  return p?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

describe('operator across a kube-apiserver restart', () => {
  let cp: ControlPlane;
  let op: RunningOperator;
  let client: KubeClient;

  beforeAll(async () => {
    cp = await ControlPlane.start();
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    client = new KubeClient(kc);
    op = await startOperator({
      kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'disrupted', probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(),
      log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      // The lease outlives the outage, so the same replica keeps leading after it.
      leaseDurationMs: 60_000, renewDeadlineMs: 45_000, retryPeriodMs: 500,
    });
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
    await cp?.stop();
  });

  it('keeps reconciling after kube-apiserver goes away and comes back', async () => {
    await client.apply(ref('before'), policy('before'), 'test');
    await waitFor(async () => (await readyStatus(client, 'before')) === 'True', { description: 'before Ready', timeoutMs: 30_000, intervalMs: 200 });

    await cp.stopApiServer();
    await new Promise((r) => setTimeout(r, 2_000));
    await cp.startApiServer();

    // A new object and a change to an old one both reach the operator through restarted watches.
    await client.apply(ref('after'), policy('after', ['missing-profile']), 'test');
    await waitFor(async () => (await readyStatus(client, 'after')) === 'False', { description: 'after to report its missing profile', timeoutMs: 30_000, intervalMs: 200 });
    const after = await client.get<McpSecurityPolicy>(ref('after'));
    expect(after.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('ProfileNotFound');

    await client.apply(ref('before'), policy('before', ['missing-profile']), 'test');
    await waitFor(async () => (await readyStatus(client, 'before')) === 'False', { description: 'before to follow its new generation', timeoutMs: 30_000, intervalMs: 200 });
    const restarts = await (await fetch(`http://127.0.0.1:${op.probe.port}/metrics`)).text();
    expect(restarts).toMatch(/toolgate_watch_restarts_total\{resource="mcpsecuritypolicies.toolgate.io"\} [1-9]/);
  });
});
