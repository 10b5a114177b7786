// Approvals in the 2026-07-28 protocol's terms (MRTR), with the real API server (test/harness),
// the operator, the shipped admission policy, a real approver running `kubectl mcp approve`, the
// v2 SDK client and a real 2026-07-28 server (test/fixtures/mcp-2026): a held tools/call answers
// with an InputRequiredResult whose URL-mode elicitation says who must approve and how; the
// client's retry of the same request proceeds once approved — only for the same caller and the
// exact same arguments.
import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import { log, phaseIs, requestFor } from './approvals-e2e-support.ts';
import { caps, meta, startMcp2026ApprovalRig, version, type Mcp2026ApprovalRig } from './mcp-2026-approvals-rig.ts';

const ns = withNamespace('mcp2026-approvals');

let rig: Mcp2026ApprovalRig;
let proxy: McpProxy;

beforeAll(async () => {
  rig = await startMcp2026ApprovalRig(ns, 'authorizer-2026');
  proxy = await startMcpProxy({ gate: rig.gate, log });
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await rig?.close();
});

describe('held calls for 2026-07-28 clients (multi round-trip)', () => {
  it('answer with an InputRequiredResult naming the approvers and the command; the v2 client\'s retry proceeds once approved', async () => {
    const args = { text: `release ${randomUUID()}` };
    const token = await rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const client = new Client({ name: 'v2-agent', version: '1.0.0' }, { capabilities: caps, versionNegotiation: { mode: { pin: version } } });
    const asked: Array<{ mode?: string; message: string; url?: string }> = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; message: string; url?: string };
      asked.push(params);
      // The human the elicitation names approves out of band, then the user says "done".
      const pending = await requestFor(ns, 'deploy', args);
      if ((pending.status?.phase ?? 'Pending') === 'Pending') expect((await rig.ann.decide('approve', pending, 'ship it')).code).toBe(0);
      await requestFor(ns, 'deploy', args, (r) => r.status?.phase !== 'Pending');
      return { action: 'accept' };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const result = await client.callTool({ name: 'deploy', arguments: args });
      expect(result.content).toEqual([{ type: 'text', text: `called deploy with ${JSON.stringify(args)}` }]);
      expect(asked.length).toBeGreaterThanOrEqual(1);
      const pending = await requestFor(ns, 'deploy', args);
      expect(asked[0]).toMatchObject({ mode: 'url', url: `urn:toolgate:approvalrequest:${ns}:${pending.metadata.name}` });
      expect(asked[0]!.message).toContain(`kubectl mcp approve ${pending.metadata.name} -n ${ns}`);
      expect(asked[0]!.message).toMatch(/sre/);
      expect(rig.deploys(args)).toBe(1);
      // What reached the upstream carries none of toolgate's own round-trip fields.
      const reached = rig.upstream.seen.filter((s) => JSON.stringify((s.body as { params?: { arguments?: unknown } }).params?.arguments) === JSON.stringify(args));
      expect(reached).toHaveLength(1);
      expect(JSON.stringify(reached[0]!.body)).not.toMatch(/toolgate-approval|io\.toolgate\/approval/);
      await waitFor(async () => (await requestFor(ns, 'deploy', args)).status?.phase === 'Consumed', { description: 'the approval consumed' });
    } finally {
      await client.close();
    }
  });

  it('bind the approval to the caller and the exact arguments: another caller or other arguments with the same requestState wait for their own', async () => {
    const args = { text: `bound ${randomUUID()}` };
    const alice = await rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const first = await rig.rawCall(proxy.url, alice, args);
    expect(first.status).toBe(200);
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { 'io.toolgate/approval': { method: 'elicitation/create', params: { mode: 'url' } } } });
    const requestState = first.body.result!.requestState as string;
    expect(requestState).toMatch(/^toolgate-approval:v1:/);
    const pending = await requestFor(ns, 'deploy', args);
    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'deploy', args, phaseIs('Approved'));
    const retryExtra = { requestState, inputResponses: { 'io.toolgate/approval': { action: 'accept' } } };

    // Bob echoing alice's requestState for the same arguments: his own, new, pending request.
    const bob = await rig.issuer.mint({ sub: 'bob', azp: 'agent-2' });
    const stolen = await rig.rawCall(proxy.url, bob, args, retryExtra);
    expect(stolen.body.result).toMatchObject({ resultType: 'input_required' });
    expect(stolen.body.result!.requestState).not.toBe(requestState);
    // Alice with other arguments: not released either.
    const changed = await rig.rawCall(proxy.url, alice, { text: `${args.text}!` }, retryExtra);
    expect(changed.body.result).toMatchObject({ resultType: 'input_required' });
    expect(rig.deploys(args)).toBe(0);
    // A declined elicitation ends the round trip with the pending error instead of asking again.
    const declined = await rig.rawCall(proxy.url, alice, { text: `${args.text}!` }, { requestState: changed.body.result!.requestState, inputResponses: { 'io.toolgate/approval': { action: 'decline' } } });
    expect(declined.body.error?.code).toBe(ErrorCodes.approvalRequired);

    // Alice's own retry of the exact call runs it, once.
    const retried = await rig.rawCall(proxy.url, alice, args, retryExtra);
    expect(retried.status).toBe(200);
    expect(retried.body.result).toMatchObject({ content: [{ type: 'text', text: `called deploy with ${JSON.stringify(args)}` }] });
    expect(rig.deploys(args)).toBe(1);
    // The approval is spent: the same retry again does not run the tool a second time.
    const again = await rig.rawCall(proxy.url, alice, args, retryExtra);
    expect(again.body.result?.content).toBeUndefined();
    expect(rig.deploys(args)).toBe(1);
  });

  it('answer a client that cannot do URL-mode elicitation with the approvalRequired error', async () => {
    const args = { text: `no-url ${randomUUID()}` };
    const alice = await rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const res = await rig.rawCall(proxy.url, alice, args, { _meta: { ...meta, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } });
    expect(res.body.error?.code).toBe(ErrorCodes.approvalRequired);
    expect(res.body.error?.message).toMatch(/kubectl mcp approve/);
    expect(rig.deploys(args)).toBe(0);
  });
});
