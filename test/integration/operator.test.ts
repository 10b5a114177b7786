// The operator against a real kube-apiserver + etcd: validation conditions, watch-driven
// readiness, no-op status writes skipped, Events, and leader election between two replicas.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { Condition, McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { operatorBundles } from '../harness/operator.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { waitFor as harnessWaitFor } from '../harness/kube.ts';

const env = inject('controlPlane');
const quiet = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const group = 'toolgate.io';
const version = 'v1alpha1';

function adminClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(env.adminKubeconfig);
  return new KubeClient(kc);
}

// Adapts the harness's poller to this file's (what, fn, timeout) call shape.
const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000) =>
  harnessWaitFor(fn, { description: what, timeoutMs, intervalMs: 100 });

function policy(namespace: string, name: string, profiles: string[] = []): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpSecurityPolicy',
    metadata: { name, namespace },
    spec: {
      servers: [{ name: 'gmail', url: 'http://gmail.mcp.svc:8080/mcp' }],
      profiles: profiles.map((p) => ({ name: p })),
      policies: [
        { name: 'allow-read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
        { name: 'approve-destructive', priority: 20, when: { destructiveHint: true }, action: 'require_approval', approvers: ['admins'], quorum: 1, timeout: '60m' },
      ],
    },
  };
}

function profile(name: string): McpProfile {
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpProfile',
    metadata: { name },
    spec: { service: 'gmail', version: '1.0.0', tools: [{ name: 'read_email', readOnlyHint: true, verb: 'get' }] },
  };
}

const policyRef = (namespace: string, name?: string, subresource?: string) => ({ group, version, plural: 'mcpsecuritypolicies', namespace, name, subresource });
const ready = (p: McpSecurityPolicy): Condition | undefined => p.status?.conditions?.find((c) => c.type === 'Ready');

async function metric(op: RunningOperator, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${op.probe.port}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

describe('operator against the real API server', () => {
  const client = adminClient();
  const ns = `op-${Date.now().toString(36)}`;
  const profileName = `gmail-${Date.now().toString(36)}`;
  let first: RunningOperator;

  beforeAll(async () => {
    await client.create({ group: '', version: 'v1', plural: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const kc = new KubeConfig();
    kc.loadFromFile(env.adminKubeconfig);
    first = await startOperator({
      kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'replica-a', probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(), log: quiet,
      leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300,
    });
    await waitFor('replica-a to lead', async () => (first.isLeader() ? true : undefined));
  });

  afterAll(async () => {
    await first?.stop();
    await client.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => {});
    await client.delete({ group, version, plural: 'mcpprofiles', name: profileName }).catch(() => {});
  });

  it('serves /healthz and /readyz once its caches are synced', async () => {
    expect((await fetch(`http://127.0.0.1:${first.probe.port}/healthz`)).status).toBe(200);
    const res = await waitFor('readyz 200', async () => {
      const r = await fetch(`http://127.0.0.1:${first.probe.port}/readyz`);
      return r.status === 200 ? r : undefined;
    });
    expect(await res.text()).toContain('caches synced');
  });

  it('marks a valid policy Ready with observedGeneration == metadata.generation', async () => {
    await client.apply(policyRef(ns, 'valid'), policy(ns, 'valid'), 'test');
    const p = await waitFor('valid to be Ready', async () => {
      const got = await client.get<McpSecurityPolicy>(policyRef(ns, 'valid'));
      return ready(got)?.status === 'True' ? got : undefined;
    });
    expect(ready(p)).toMatchObject({ reason: 'Ready', observedGeneration: p.metadata.generation });
    expect(p.status?.observedGeneration).toBe(p.metadata.generation);
    expect(p.status?.conditions?.find((c) => c.type === 'Accepted')?.status).toBe('True');

    // A spec change bumps the generation; the status follows it.
    const changed = policy(ns, 'valid');
    changed.spec.defaultAction = 'allow';
    await client.apply(policyRef(ns, 'valid'), changed, 'test');
    const p2 = await waitFor('observedGeneration 2', async () => {
      const got = await client.get<McpSecurityPolicy>(policyRef(ns, 'valid'));
      return got.metadata.generation === 2 && ready(got)?.observedGeneration === 2 ? got : undefined;
    });
    expect(p2.status?.observedGeneration).toBe(2);
  });

  it('skips the status write when nothing changed', async () => {
    const written = () => metric(first, /^toolgate_status_writes_total\{.*outcome="written"/);
    const skipped = () => metric(first, /^toolgate_status_writes_total\{.*outcome="skipped"/);
    const before = await client.get<McpSecurityPolicy>(policyRef(ns, 'valid'));
    expect(ready(before)?.status).toBe('True');
    const [w0, s0] = [await written(), await skipped()];
    // A metadata-only change triggers a reconcile whose result equals the stored status.
    await client.mergePatch(policyRef(ns, 'valid'), { metadata: { annotations: { touched: String(Date.now()) } } });
    await waitFor('a skipped write', async () => ((await skipped()) > s0 ? true : undefined));
    expect(await written()).toBe(w0);
    const after = await client.get<McpSecurityPolicy>(policyRef(ns, 'valid'));
    expect(after.status).toEqual(before.status);
  });

  it('reports a missing profile by field, then becomes Ready when the profile appears', async () => {
    await client.apply(policyRef(ns, 'needs-profile'), policy(ns, 'needs-profile', [profileName]), 'test');
    const p = await waitFor('ProfileNotFound', async () => {
      const got = await client.get<McpSecurityPolicy>(policyRef(ns, 'needs-profile'));
      return ready(got)?.status === 'False' ? got : undefined;
    });
    expect(ready(p)?.reason).toBe('ProfileNotFound');
    expect(ready(p)?.message).toContain('spec.profiles[0]');
    expect(ready(p)?.message).toContain(profileName);
    expect(p.status?.problems?.[0]?.field).toMatch(/^spec\.profiles\[0\]/);

    // The Event follows the status write, so it may land a moment later.
    const warning = await waitFor('a Warning event', async () => {
      const events = await client.list<{ reason: string; type: string; note: string; regarding: { name: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace: ns });
      return events.items.find((e) => e.regarding.name === 'needs-profile' && e.type === 'Warning');
    }, 5_000);
    expect(warning.reason).toBe('ProfileNotFound');
    expect(warning.note).toContain(profileName);

    await client.create({ group, version, plural: 'mcpprofiles' }, profile(profileName));
    const fixed = await waitFor('Ready after the profile is created', async () => {
      const got = await client.get<McpSecurityPolicy>(policyRef(ns, 'needs-profile'));
      return ready(got)?.status === 'True' ? got : undefined;
    }, 10_000);
    expect(fixed.status?.problems ?? []).toEqual([]);
  });

  it('lets only the lease holder write; the follower takes over when the leader stops', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(env.adminKubeconfig);
    const second = await startOperator({
      kubeConfig: kc, leaseNamespace: ns, watchNamespace: ns, identity: 'replica-b', probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(), log: quiet,
      leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300,
    });
    try {
      await second.policies.synced();
      await client.apply(policyRef(ns, 'while-a-leads'), policy(ns, 'while-a-leads'), 'test');
      await waitFor('while-a-leads Ready', async () => (ready(await client.get(policyRef(ns, 'while-a-leads')))?.status === 'True' ? true : undefined));
      expect(second.isLeader()).toBe(false);
      expect(await metric(second, /^toolgate_status_writes_total\{.*outcome="written"/)).toBe(0);
      const lease = await client.get<{ spec: { holderIdentity: string } }>({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: ns, name: 'toolgate-operator' });
      expect(lease.spec.holderIdentity).toBe('replica-a');

      await first.stop();
      await waitFor('replica-b to lead', async () => (second.isLeader() ? true : undefined), 10_000);
      await client.apply(policyRef(ns, 'after-failover'), policy(ns, 'after-failover'), 'test');
      await waitFor('after-failover Ready', async () => (ready(await client.get(policyRef(ns, 'after-failover')))?.status === 'True' ? true : undefined));
      expect(await metric(second, /^toolgate_status_writes_total\{.*outcome="written"/)).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }
  });
});
