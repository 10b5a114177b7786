// Exactly-once release across authorizer replicas, restarts and clients that go away, and the
// proxy's retry mode — all over the real API server, operator, MCP server and SDK client.
import { randomUUID } from 'node:crypto';
import { McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import { phaseIs, requestFor, startReplica, type Replica } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { connectClient } from './proxy-support.ts';

const ns = withNamespace('approvals-ha');
let rig: ApprovalRig;
const replicas: Replica[] = [];
const clients: Array<{ close(): Promise<void> }> = [];

async function replica(pod: string, mode: 'hold' | 'retry' = 'hold'): Promise<Replica> {
  const r = await startReplica({ pod, kubeConfig: rig.ids.authorizer, policy: rig.policy, mode });
  replicas.push(r);
  return r;
}

async function client(r: Replica, token?: string) {
  const c = await connectClient(r.proxy.url, token ?? await rig.token());
  clients.push(c.client);
  return c.client;
}

const echo = (message: string) => ({ name: 'echo', arguments: { message } });
const settle = <T>(p: Promise<T>) => p.then((ok) => ({ ok }), (err: unknown) => ({ err: err as McpError }));

beforeAll(async () => {
  rig = await startApprovalRig(ns);
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(replicas.map((r) => r.close().catch(() => undefined)));
  await rig?.close();
});

describe('exactly-once release', () => {
  it('two replicas holding the identical call + one approval: the upstream sees exactly one call', async () => {
    const [a, b] = await Promise.all([replica('authorizer-a'), replica('authorizer-b')]);
    const token = await rig.token();
    const [ca, cb] = await Promise.all([client(a, token), client(b, token)]);
    const message = `once ${randomUUID()}`;
    const progress: [Progress[], Progress[]] = [[], []];
    const calls = [ca, cb].map((c, i) => settle(c.callTool(echo(message), undefined, { onprogress: (p) => progress[i]!.push(p), timeout: 120_000 })));
    await waitFor(() => progress[0].length > 0 && progress[1].length > 0, { description: 'both replicas holding the call' });
    const pending = await requestFor(ns, 'echo', { message });

    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    const outcomes = await Promise.all(calls);
    const released = outcomes.filter((o) => 'ok' in o);
    const refused = outcomes.flatMap((o) => ('err' in o ? [o.err] : []));
    expect(released).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(McpError);
    expect(refused[0]!.code).toBe(ErrorCodes.alreadyReleased);
    expect(refused[0]!.message).toContain('already released elsewhere');
    expect(rig.upstreamCalls('echo', { message })).toBe(1);
    const consumed = await requestFor(ns, 'echo', { message }, phaseIs('Consumed'));
    const winner = outcomes.findIndex((o) => 'ok' in o);
    expect(consumed.status?.consumedBy).toBe(['authorizer-a', 'authorizer-b'][winner]);
  });

  it('an authorizer killed while a call is held: after restart the approval releases the retried call', async () => {
    const first = await replica('authorizer-c');
    const c = await client(first);
    const message = `restart ${randomUUID()}`;
    const progress: Progress[] = [];
    const held = settle(c.callTool(echo(message), undefined, { onprogress: (p) => progress.push(p), timeout: 120_000 }));
    await waitFor(() => progress.length > 0, { description: 'the call held' });
    const pending = await requestFor(ns, 'echo', { message });
    await first.close();
    // The SDK keeps a request whose stream was cut pending; the agent gives up on it.
    await c.close();
    expect('err' in (await held)).toBe(true);

    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'echo', { message }, phaseIs('Approved'));
    expect(rig.upstreamCalls('echo', { message })).toBe(0);

    const restarted = await replica('authorizer-c2');
    const result = await (await client(restarted)).callTool(echo(message));
    expect(result.content).toEqual([{ type: 'text', text: `Echo: ${message}` }]);
    expect(rig.upstreamCalls('echo', { message })).toBe(1);
    expect((await requestFor(ns, 'echo', { message }, phaseIs('Consumed'))).status?.consumedBy).toBe('authorizer-c2');
  });

  it('a client that gives up stops the wait; the approval waits for its retry', async () => {
    const r = await replica('authorizer-d');
    const c = await client(r);
    const message = `gave up ${randomUUID()}`;
    const progress: Progress[] = [];
    const abort = new AbortController();
    const held = settle(c.callTool(echo(message), undefined, { onprogress: (p) => progress.push(p), signal: abort.signal, timeout: 120_000 }));
    await waitFor(() => progress.length > 0, { description: 'the call held' });
    const pending = await requestFor(ns, 'echo', { message });
    expect(await r.waiting()).toBe(1);
    abort.abort();
    expect('err' in (await held)).toBe(true);
    await waitFor(async () => (await r.waiting()) === 0, { description: 'the proxy to stop waiting for the abandoned call' });

    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'echo', { message }, phaseIs('Approved'));
    // Had the abandoned call been released, the upstream would see two calls or the retry would be refused.
    const result = await c.callTool(echo(message));
    expect(result.content).toEqual([{ type: 'text', text: `Echo: ${message}` }]);
    expect(rig.upstreamCalls('echo', { message })).toBe(1);
  });
});

describe('proxy retry mode', () => {
  it('answers at once with the approval reference; the identical call retried after approval proceeds, once', async () => {
    const r = await replica('authorizer-r', 'retry');
    const c = await client(r);
    const message = `retry ${randomUUID()}`;
    const first = await settle(c.callTool(echo(message)));
    expect('err' in first).toBe(true);
    const err = (first as { err: McpError }).err;
    expect(err.code).toBe(ErrorCodes.approvalRequired);
    const pending = await requestFor(ns, 'echo', { message });
    const approve = `kubectl mcp approve ${pending.metadata.name} -n ${ns}`;
    expect(err.data).toMatchObject({ rule: 'echo-needs-sre', approval: { namespace: ns, name: pending.metadata.name }, approve, phase: 'Pending' });
    expect(err.message).toContain(approve);

    // Retried before approval: the same request, still pending.
    const again = await settle(c.callTool(echo(message)));
    expect((again as { err: McpError }).err.data).toMatchObject({ approval: { name: pending.metadata.name }, phase: 'Pending' });
    expect((await requestFor(ns, 'echo', { message })).metadata.uid).toBe(pending.metadata.uid);
    expect(rig.upstreamCalls('echo', { message })).toBe(0);

    expect((await rig.bob.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'echo', { message }, phaseIs('Approved'));
    const result = await c.callTool(echo(message));
    expect(result.content).toEqual([{ type: 'text', text: `Echo: ${message}` }]);
    expect(rig.upstreamCalls('echo', { message })).toBe(1);
    expect((await requestFor(ns, 'echo', { message }, phaseIs('Consumed'))).status?.consumedBy).toBe('authorizer-r');

    // One approval releases one call: the next identical call asks again.
    const third = await settle(c.callTool(echo(message)));
    expect((third as { err: McpError }).err.code).toBe(ErrorCodes.approvalRequired);
    const renewed = await requestFor(ns, 'echo', { message }, (x) => x.metadata.uid !== pending.metadata.uid);
    expect(renewed.status?.phase ?? 'Pending').toBe('Pending');
    expect(rig.upstreamCalls('echo', { message })).toBe(1);
  });
});
