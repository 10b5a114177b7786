// Human approval end to end, hold mode: the official MCP SDK client calls through the proxy, the
// call is held while an ApprovalRequest waits in the real API server, approvers (minted users)
// decide with the `kubectl mcp` code, the real operator computes the phase, and the authorizer
// releases (or ends) the held call from its watch. A recorder in front of the real upstream
// counts what reached it.
import { randomUUID } from 'node:crypto';
import { McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import type { ApprovalArguments } from '../../api/v1alpha1/index.ts';
import { canonicalArguments } from '../../pkg/approvals/digest.ts';
import { adminClient, approver, approverRbac, phaseIs, requestFor, startReplica, type Replica } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { connectClient, rawPost } from './proxy-support.ts';
import { JsonNumber } from '../../pkg/json/strict.ts';

const ns = withNamespace('approvals');
let rig: ApprovalRig;
let replica: Replica;

beforeAll(async () => {
  rig = await startApprovalRig(ns);
  replica = await startReplica({ pod: 'authorizer-a', kubeConfig: rig.ids.authorizer, policy: rig.policy });
}, 180_000);

afterAll(async () => {
  await replica?.close();
  await rig?.close();
});

const asError = (e: unknown) => e as McpError;

describe('held calls (proxy, hold mode)', () => {
  // Regression (issue 10): the digest covered JSON.parse's reading of the arguments, so approving
  // n = 1234567890123456789 would release n = 1234567890123456700 (both read 1234567890123456800).
  // Fails on the code before: the neighbour found the approved request under the same name.
  it('binds an approval to the exact digits: a rounded neighbour is another request, held apart', async () => {
    const token = await rig.token();
    const init = await rawPost(replica.proxy.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }, { authorization: `Bearer ${token}` });
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await init.arrayBuffer();
    expect((await rawPost(replica.proxy.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
    const message = `digits ${randomUUID()}`;
    const body = (id: number, n: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":${JSON.stringify(message)},"n":${n}}}}`;
    const exact = { message, n: new JsonNumber('1234567890123456789') };
    const held = rawPost(replica.proxy.url, body(1, '1234567890123456789'), headers);
    const pending = await requestFor(ns, 'echo', exact);
    expect(pending.spec.arguments).toEqual({ message, n: '1234567890123456789' });
    const neighbourAbort = new AbortController();
    const neighbour = fetch(replica.proxy.url, { method: 'POST', signal: neighbourAbort.signal, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: body(2, '1234567890123456700') }).catch(() => undefined);
    try {
      const other = await requestFor(ns, 'echo', { message, n: new JsonNumber('1234567890123456700') });
      expect(other.metadata.name).not.toBe(pending.metadata.name);
      expect((await rig.ann.decide('approve', pending, 'exact digits')).code).toBe(0);
      const released = await (await held).text();
      expect(released).toContain(`Echo: ${message}`);
      expect(rig.upstreamCalls('echo', { message })).toBe(1);
      // The neighbour is still waiting on its own request.
      expect((await requestFor(ns, 'echo', { message, n: new JsonNumber('1234567890123456700') })).status?.phase ?? 'Pending').toBe('Pending');
    } finally {
      neighbourAbort.abort();
      await neighbour;
    }
  });

  it('an approval releases the held call with the real upstream result, exactly once', async () => {
    const { client } = await connectClient(replica.proxy.url, await rig.token());
    try {
      const args = { message: `hello ${randomUUID()}` };
      const progress: Progress[] = [];
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { onprogress: (p) => progress.push(p), timeout: 120_000 });
      const pending = await requestFor(ns, 'echo', args);
      expect(pending.metadata.name).toMatch(/^ar-[0-9a-f]{40}$/);
      expect(pending.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'toolgate-authorizer', 'toolgate.io/policy': 'agents' });
      expect(pending.spec).toMatchObject({
        requester: { agent: 'agent-1', operator: 'alice' }, policyRef: { namespace: ns, name: 'agents', revision: 'rev-1' },
        rule: 'echo-needs-sre', server: 'everything', tool: 'echo', arguments: args, approvers: ['sre'], quorum: 1,
      });
      // Keep-alive progress names the request and how to approve it.
      await waitFor(() => progress.length > 0, { description: 'a progress notification on the held stream' });
      expect(progress[0]!.message).toContain(`kubectl mcp approve ${pending.metadata.name} -n ${ns}`);
      expect(rig.upstreamCalls('echo', args)).toBe(0);

      const approved = await rig.ann.decide('approve', pending, 'checked');
      expect(approved, approved.err).toMatchObject({ code: 0 });
      const result = await call;
      expect(result.content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
      expect(rig.upstreamCalls('echo', args)).toBe(1);
      const consumed = await requestFor(ns, 'echo', args, phaseIs('Consumed'));
      expect(consumed.status).toMatchObject({ consumedBy: 'authorizer-a', decisions: [{ user: 'ann', decision: 'approve', reason: 'checked' }] });
    } finally {
      await client.close();
    }
  });

  it('a denial ends the call with who denied and why; upstream never sees it', async () => {
    const { client } = await connectClient(replica.proxy.url, await rig.token());
    try {
      const args = { message: `deny me ${randomUUID()}` };
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 }).then(() => undefined, asError);
      const pending = await requestFor(ns, 'echo', args);
      const denied = await rig.bob.decide('deny', pending, 'not on a Friday');
      expect(denied, denied.err).toMatchObject({ code: 0 });
      const err = await call;
      expect(err).toBeInstanceOf(McpError);
      expect(err!.code).toBe(ErrorCodes.approvalDenied);
      expect(err!.message).toContain('bob ("not on a Friday")');
      expect(err!.data).toMatchObject({ rule: 'echo-needs-sre', approval: { namespace: ns, name: pending.metadata.name }, deniedBy: [{ user: 'bob', reason: 'not on a Friday' }] });
      expect(rig.upstreamCalls('echo', args)).toBe(0);
      expect((await requestFor(ns, 'echo', args)).status?.phase).toBe('Denied');
    } finally {
      await client.close();
    }
  });

  it('a quorum of 2 needs two distinct approvers', async () => {
    const { client } = await connectClient(replica.proxy.url, await rig.token());
    try {
      const args = { a: 2, b: Math.floor(Math.random() * 1e6) };
      let settled = false;
      const call = client.callTool({ name: 'get-sum', arguments: args }, undefined, { timeout: 120_000 }).finally(() => { settled = true; });
      const pending = await requestFor(ns, 'get-sum', args);
      expect(pending.spec.quorum).toBe(2);
      expect((await rig.ann.decide('approve', pending)).code).toBe(0);
      // The operator has counted ann's approval and still waits for one more.
      const half = await requestFor(ns, 'get-sum', args, (r) => (r.status?.conditions ?? []).some((c) => c.type === 'Decided' && c.message.includes('approved so far by ann')));
      expect(half.status?.phase).toBe('Pending');
      expect(settled).toBe(false);
      expect(rig.upstreamCalls('get-sum', args)).toBe(0);

      expect((await rig.cat.decide('approve', pending)).code).toBe(0);
      const result = await call;
      expect(result.content).toEqual([{ type: 'text', text: `The sum of 2 and ${args.b} is ${2 + args.b}.` }]);
      expect(rig.upstreamCalls('get-sum', args)).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('expiry aborts the call; an approval after expiry releases nothing', async () => {
    const { client } = await connectClient(replica.proxy.url, await rig.token());
    try {
      const args = { messageType: 'success', includeImage: false, note: randomUUID() };
      const err = await client.callTool({ name: 'get-annotated-message', arguments: args }, undefined, { timeout: 120_000 }).then(() => undefined, asError);
      expect(err).toBeInstanceOf(McpError);
      expect(err!.code).toBe(ErrorCodes.approvalExpired);
      expect(err!.message).toContain('expired unapproved');
      const expired = await requestFor(ns, 'get-annotated-message', args, phaseIs('Expired'));

      // Refused (by the plugin or the API server's admission policy), and nothing changes.
      const late = await rig.ann.decide('approve', expired);
      expect(late.code).not.toBe(0);
      expect(late.err).toMatch(/Expired/);
      expect((await requestFor(ns, 'get-annotated-message', args)).status?.phase).toBe('Expired');
      expect(rig.upstreamCalls('get-annotated-message', args)).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('approvers see the full arguments the request shows redacted, verified against its digest; nobody else does', async () => {
    const { client } = await connectClient(replica.proxy.url, await rig.token());
    try {
      const key = `sk_live_${randomUUID().replaceAll('-', '')}`;
      const args = { message: key };
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 }).then(() => undefined, asError);
      const pending = await requestFor(ns, 'echo', args);
      const name = pending.metadata.name!;
      expect(pending.spec.arguments).toEqual({ message: '[REDACTED:api-token]' });

      // Kept beside the request, owned by it (garbage-collected with it), readable by the approver groups only.
      const argsName = `${name}-${pending.metadata.uid}`;
      const owner = { apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', name, uid: pending.metadata.uid, controller: true };
      const admin = adminClient();
      // The RoleBinding is written last.
      const binding = await waitFor(() => admin.get<{ metadata: { ownerReferences: unknown[] }; subjects: unknown[] }>({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespace: ns, name: argsName }).catch(() => undefined), { description: 'the approvers\' RoleBinding' });
      const stored = await admin.get<ApprovalArguments>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalarguments', namespace: ns, name: argsName });
      expect(stored.metadata.ownerReferences).toEqual([owner]);
      expect(stored.spec).toEqual({ argumentsDigest: pending.spec.argumentsDigest, canonical: canonicalArguments(args) });
      expect(binding.metadata.ownerReferences).toEqual([owner]);
      expect(binding.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre' }]);

      const shown = await rig.ann.mcp(['show', name, '-n', ns]);
      expect(shown, shown.err).toMatchObject({ code: 0, err: '' });
      expect(shown.out).toContain(`Arguments digest:  ${pending.spec.argumentsDigest}`);
      expect(shown.out).toContain(`Arguments (full; sha256 verified against the digest):\n{\n  "message": "${key}"\n}`);
      expect(shown.out).toContain('Approvers:');
      const raw = await rig.ann.mcp(['show', name, '-n', ns, '--raw']);
      expect(raw.out).toBe(`${canonicalArguments(args)}\n`);

      // May read requests (and is refused as a decider by admission), but is no approver of this one.
      await approverRbac(ns, ['sre', 'security', 'viewers']);
      const vera = await approver('vera', ['viewers']);
      const refused = await vera.mcp(['show', name, '-n', ns]);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain(`cannot show the full arguments of approvalrequest ${name}: you may not read them (approvalarguments ${argsName} is readable by members of sre only)`);
      expect(refused.out).toContain('"message": "[REDACTED:api-token]"');
      expect(refused.out + refused.err).not.toContain(key);

      // Arguments that are not what the request binds are never shown, whoever put them there.
      await admin.delete({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalarguments', namespace: ns, name: argsName });
      await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalarguments', namespace: ns }, {
        ...stored, metadata: { name: argsName, namespace: ns, ownerReferences: [owner] }, spec: { argumentsDigest: pending.spec.argumentsDigest, canonical: canonicalArguments({ message: 'something harmless' }) },
      });
      const tampered = await rig.ann.mcp(['show', name, '-n', ns]);
      expect(tampered.code).toBe(1);
      expect(tampered.err).toContain(`refusing to show them: the arguments in ApprovalArguments ${argsName} hash to`);
      expect(tampered.err).toContain(`but the request binds ${pending.spec.argumentsDigest}: they are not what is being approved`);
      expect(tampered.out).not.toContain('something harmless');

      expect((await rig.bob.decide('deny', pending, 'test over')).code).toBe(0);
      expect((await call)?.code).toBe(ErrorCodes.approvalDenied);
      expect(rig.upstreamCalls('echo', args)).toBe(0);
    } finally {
      await client.close();
    }
  });
});
