// Approvals that cannot be stretched or faked (issue 10), with the real API server, operator,
// admission policy, upstream and MCP SDK client:
// - a request is bound to the rule, approvers, quorum and revision that required it: when a new
//   revision requires something else, the old request is Superseded and its approval releases nothing;
// - a request pre-created under the call's name with weaker approvers is never honoured;
// - with the admission binding deleted, a phase written by a person, or edited labels, change
//   nothing: the operator and the authorizer go by the decisions.
import { randomUUID } from 'node:crypto';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import { adminClient, approver, approverRbac, phaseIs, requestFor, startReplica, type Replica } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { connectClient } from './proxy-support.ts';

const ns = withNamespace('approvals-bound');
let rig: ApprovalRig;
let held: Replica;
let retry: Replica;

const ref = (name?: string, subresource?: string) => ({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) });
const get = (name: string) => adminClient().get<ApprovalRequest>(ref(name));
const asError = (e: unknown) => e as McpError;

/** echo: 2 of [security] instead of 1 of [sre]. */
function tightened(p: McpSecurityPolicy): McpSecurityPolicy {
  const out = structuredClone(p);
  out.spec.policies = out.spec.policies.map((r) => (r.name === 'echo-needs-sre'
    ? { name: 'echo-needs-security', priority: 10, when: { tools: ['echo'] }, action: 'require_approval', approvers: ['security'], quorum: 2, timeout: '10m' }
    : r));
  return out;
}

beforeAll(async () => {
  rig = await startApprovalRig(ns);
  [held, retry] = await Promise.all([
    startReplica({ pod: 'authorizer-hold', kubeConfig: rig.ids.authorizer, policy: rig.policy }),
    startReplica({ pod: 'authorizer-retry', kubeConfig: rig.ids.authorizer, policy: rig.policy, mode: 'retry' }),
  ]);
}, 180_000);

afterAll(async () => {
  await held?.close();
  await retry?.close();
  await rig?.close();
});

/** One call through a replica; resolves with its result or its McpError. */
async function callOnce(replica: Replica, tool: string, args: Record<string, unknown>): Promise<{ result?: unknown; error?: McpError }> {
  const { client } = await connectClient(replica.proxy.url, await rig.token());
  try {
    return { result: await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 }) };
  } catch (e) {
    return { error: asError(e) };
  } finally {
    await client.close();
  }
}

describe('a request is bound to what the policy required', () => {
  it('after the rule is tightened from 1 of sre to 2 of security, an sre approval of the old request does not release the identical call', async () => {
    const args = { message: `tightened ${randomUUID()}` };
    const first = await callOnce(retry, 'echo', args);
    expect(first.error?.code).toBe(ErrorCodes.approvalRequired);
    const old = await requestFor(ns, 'echo', args);
    expect(old.spec).toMatchObject({ rule: 'echo-needs-sre', approvers: ['sre'], quorum: 1, policyRef: { revision: 'rev-1' } });

    await retry.reload(tightened(rig.policy), 'rev-2');
    // ann's approval reaches the old request before anyone retries; the operator marks it Approved.
    expect((await rig.ann.decide('approve', old)).code).toBe(0);
    await requestFor(ns, 'echo', args, (r) => r.metadata.name === old.metadata.name && phaseIs('Approved')(r));

    const again = await callOnce(retry, 'echo', args);
    expect(again.error?.code).toBe(ErrorCodes.approvalRequired);
    expect(rig.upstreamCalls('echo', args)).toBe(0);
    const fresh = await requestFor(ns, 'echo', args, (r) => r.metadata.name !== old.metadata.name);
    expect(fresh.spec).toMatchObject({ rule: 'echo-needs-security', approvers: ['security'], quorum: 2, policyRef: { revision: 'rev-2' } });
    expect((again.error?.data as { approval?: { name?: string } }).approval?.name).toBe(fresh.metadata.name);

    const stale = await waitFor(async () => { const r = await get(old.metadata.name!); return r.status?.phase === 'Superseded' ? r : undefined; }, { description: 'the old request to be Superseded' });
    expect(stale.status?.consumedBy).toBeUndefined();
    expect(stale.status?.conditions?.find((c) => c.type === 'Superseded')).toMatchObject({
      status: 'True', reason: 'PolicyChanged',
      message: expect.stringContaining(`revision rev-2 requires 2 approvals from security (rule "echo-needs-security"); this request asked for 1 approval from sre (rule "echo-needs-sre") under revision rev-1`),
    });

    // The operator agrees: decided, by a policy change rather than a person.
    await waitFor(async () => (await get(old.metadata.name!)).status?.conditions?.some((c) => c.type === 'Decided' && c.reason === 'Superseded' && c.message.includes('revision rev-2')), { description: 'the operator to record the supersession' });

    // The new approvers release it, once.
    expect((await rig.bob.decide('approve', fresh)).code).toBe(0);
    expect((await rig.cat.decide('approve', fresh)).code).toBe(0);
    await requestFor(ns, 'echo', args, (r) => r.metadata.name === fresh.metadata.name && phaseIs('Approved')(r));
    const released = await callOnce(retry, 'echo', args);
    expect(released.error).toBeUndefined();
    expect(rig.upstreamCalls('echo', args)).toBe(1);
  });

  it('a held call waiting when the policy changes is decided afresh: the old request is Superseded, the new approvers decide', async () => {
    const { client } = await connectClient(held.proxy.url, await rig.token());
    try {
      const args = { message: `held ${randomUUID()}` };
      let settled = false;
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 }).finally(() => { settled = true; });
      const old = await requestFor(ns, 'echo', args);
      expect(old.spec.approvers).toEqual(['sre']);

      await held.reload(tightened(rig.policy), 'rev-2');
      const fresh = await requestFor(ns, 'echo', args, (r) => r.metadata.name !== old.metadata.name);
      expect(fresh.spec).toMatchObject({ approvers: ['security'], quorum: 2 });
      expect((await get(old.metadata.name!)).status?.phase).toBe('Superseded');
      const late = await rig.ann.decide('approve', old);
      expect(late.code).not.toBe(0);
      expect(late.err).toContain('Superseded');

      expect((await rig.bob.decide('approve', fresh)).code).toBe(0);
      expect(settled).toBe(false);
      expect((await rig.cat.decide('approve', fresh)).code).toBe(0);
      expect((await call).content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
      expect(rig.upstreamCalls('echo', args)).toBe(1);
    } finally {
      await client.close();
    }
  });
});

describe('a pre-created request is never honoured', () => {
  it('a request under the call\'s name with weaker approvers, approved by them, is refused with a clear error and reported', async () => {
    const args = { a: 3, b: Math.floor(Math.random() * 1e6) };
    expect((await callOnce(retry, 'get-sum', args)).error?.code).toBe(ErrorCodes.approvalRequired);
    const genuine = await requestFor(ns, 'get-sum', args);
    expect(genuine.spec).toMatchObject({ approvers: ['security', 'sre'], quorum: 2 });

    // Someone with create rights (here the authorizer's own identity, which the admission policy
    // lets create) puts a request with the same name but weaker approvers in its place.
    const authorizer = new (await import('../../pkg/kube/client.ts')).KubeClient(rig.ids.authorizer);
    await adminClient().delete(ref(genuine.metadata.name!));
    await waitFor(async () => get(genuine.metadata.name!).then(() => false, () => true), { description: 'the genuine request to be gone' });
    const forged: ApprovalRequest = {
      apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name: genuine.metadata.name, namespace: ns, labels: genuine.metadata.labels },
      spec: { ...genuine.spec, approvers: ['interns'], quorum: 1 },
    };
    await authorizer.create(ref(), forged, 'toolgate-authorizer');
    await approverRbac(ns, ['sre', 'security', 'interns']);
    const ian = await approver('ian', ['interns']);
    expect((await ian.decide('approve', forged)).code).toBe(0);
    await requestFor(ns, 'get-sum', args, phaseIs('Approved'));

    const before = (await retry.coordinator.metrics!.untrusted.get()).values[0]?.value ?? 0;
    const refused = await callOnce(retry, 'get-sum', args);
    expect(refused.error?.code).toBe(ErrorCodes.approvalDenied);
    expect(refused.error?.message).toContain(`approval request ${ns}/${genuine.metadata.name} cannot be trusted`);
    expect(refused.error?.message).toContain('spec.approvers is ["interns"], expected ["security","sre"]; spec.quorum is 1, expected 2');
    expect(rig.upstreamCalls('get-sum', args)).toBe(0);
    expect((await get(genuine.metadata.name!)).status).toMatchObject({ phase: 'Approved' });
    expect((await get(genuine.metadata.name!)).status?.consumedBy).toBeUndefined();
    expect((await retry.coordinator.metrics!.untrusted.get()).values[0]?.value).toBe(before + 1);
  });
});

describe('with the admission binding deleted', () => {
  beforeAll(async () => {
    await rig.unbindAdmission();
  });

  /** A status write the admission policy would refuse; retried until the API server no longer enforces it. */
  async function writeStatusUnguarded(name: string, change: (s: NonNullable<ApprovalRequest['status']>) => void): Promise<void> {
    await waitFor(async () => {
      const ar = await get(name);
      const status = structuredClone(ar.status ?? {});
      change(status);
      return adminClient().replace(ref(name, 'status'), { ...ar, status }).then(() => true, () => false);
    }, { description: `a person's status write on ${name} to go through`, timeoutMs: 30_000 });
  }

  it('a person writing status.phase Approved is overwritten by the operator, and the held call waits for a real approval', async () => {
    const { client } = await connectClient(held.proxy.url, await rig.token());
    try {
      const args = { a: 5, b: Math.floor(Math.random() * 1e6) };
      let settled = false;
      const call = client.callTool({ name: 'get-sum', arguments: args }, undefined, { timeout: 120_000 }).finally(() => { settled = true; });
      const pending = await requestFor(ns, 'get-sum', args, (r) => (r.status?.conditions ?? []).some((c) => c.type === 'Decided'));
      await writeStatusUnguarded(pending.metadata.name!, (s) => { s.phase = 'Approved'; });
      // The operator derives the phase from the decisions (none) and puts it back.
      const reset = await requestFor(ns, 'get-sum', args, (r) => r.metadata.name === pending.metadata.name && phaseIs('Pending')(r));
      expect(reset.status?.consumedBy).toBeUndefined();
      expect(settled).toBe(false);
      expect(rig.upstreamCalls('get-sum', args)).toBe(0);

      expect((await rig.ann.decide('approve', pending)).code).toBe(0);
      expect((await rig.cat.decide('approve', pending)).code).toBe(0);
      expect((await call).content).toEqual([{ type: 'text', text: `The sum of 5 and ${args.b} is ${5 + args.b}.` }]);
      expect(rig.upstreamCalls('get-sum', args)).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('labels and annotations edited by a person change nothing: the call is neither released nor lost', async () => {
    const { client } = await connectClient(held.proxy.url, await rig.token());
    try {
      const args = { message: `relabelled ${randomUUID()}` };
      let settled = false;
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 }).finally(() => { settled = true; });
      const pending = await requestFor(ns, 'echo', args);
      await adminClient().mergePatch(ref(pending.metadata.name!), {
        metadata: { labels: { 'app.kubernetes.io/managed-by': null, 'toolgate.io/policy': 'allow-everything', 'toolgate.io/approved': 'true' }, annotations: { 'toolgate.io/phase': 'Approved' } },
      });
      await new Promise((r) => setTimeout(r, 1000));
      expect(settled).toBe(false);
      expect(rig.upstreamCalls('echo', args)).toBe(0);
      // The policy in this replica is the tightened one by now: two of security.
      expect((await rig.bob.decide('approve', pending)).code).toBe(0);
      expect((await rig.cat.decide('approve', pending)).code).toBe(0);
      expect((await call).content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
      expect(rig.upstreamCalls('echo', args)).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('with no operator to correct it, the authorizer itself refuses an Approved phase the decisions do not back', async () => {
    await rig.operator.stop();
    const args = { a: 7, b: Math.floor(Math.random() * 1e6) };
    expect((await callOnce(retry, 'get-sum', args)).error?.code).toBe(ErrorCodes.approvalRequired);
    const pending = await requestFor(ns, 'get-sum', args);
    // One real approval of the two needed, then a forged phase.
    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await writeStatusUnguarded(pending.metadata.name!, (s) => { s.phase = 'Approved'; });
    const before = (await retry.coordinator.metrics!.unbacked.get()).values[0]?.value ?? 0;
    const again = await callOnce(retry, 'get-sum', args);
    expect(again.error?.code).toBe(ErrorCodes.approvalRequired);
    expect(again.error?.data).toMatchObject({ phase: 'Approved' });
    expect(rig.upstreamCalls('get-sum', args)).toBe(0);
    expect((await get(pending.metadata.name!)).status?.consumedBy).toBeUndefined();
    expect((await retry.coordinator.metrics!.unbacked.get()).values[0]?.value).toBe(before + 1);
  });
});
