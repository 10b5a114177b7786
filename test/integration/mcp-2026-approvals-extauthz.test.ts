// Approvals in the 2026-07-28 protocol's terms (MRTR) through the Envoy ext_authz front end: the
// real gRPC ext_authz server behind a loopback stand-in for Envoy's filter chain
// (test/support/envoy-http-front.ts), the real API server, operator, admission policy and
// `kubectl mcp approve`, the v2 SDK client and a real 2026-07-28 server. A held tools/call is
// answered with an InputRequiredResult without requestState (Envoy forwards the retry's body as
// sent, so toolgate must need nothing removed); the retry proceeds once approved, only for the
// same caller and the exact arguments; the upstream sees toolgate's input response and ignores it.
import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { startExtAuthzServer, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { startEnvoyHttpFront, type EnvoyHttpFront } from '../support/envoy-http-front.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import { log, phaseIs, requestFor } from './approvals-e2e-support.ts';
import { caps, meta, startMcp2026ApprovalRig, version, type Mcp2026ApprovalRig } from './mcp-2026-approvals-rig.ts';

const ns = withNamespace('mcp2026-approvals-ea');

let rig: Mcp2026ApprovalRig;
let extAuthz: ExtAuthzServer;
let envoy: EnvoyHttpFront;

beforeAll(async () => {
  rig = await startMcp2026ApprovalRig(ns, 'authorizer-2026-ea');
  extAuthz = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log, gate: rig.gate });
  envoy = await startEnvoyHttpFront({ extAuthzPort: extAuthz.port, upstreamUrl: rig.upstream.url, server: 'fixture' });
}, 180_000);

afterAll(async () => {
  await envoy?.close();
  await extAuthz?.close();
  await rig?.close();
});

describe('held calls for 2026-07-28 clients through ext_authz (multi round-trip)', () => {
  it('answer with an InputRequiredResult (no requestState) naming the approvers and the command; the v2 client\'s retry proceeds once approved', async () => {
    const args = { text: `release ${randomUUID()}` };
    const token = await rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const client = new Client({ name: 'v2-agent', version: '1.0.0' }, { capabilities: caps, versionNegotiation: { mode: { pin: version } } });
    const asked: Array<{ mode?: string; message: string; url?: string }> = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; message: string; url?: string };
      asked.push(params);
      const pending = await requestFor(ns, 'deploy', args);
      if ((pending.status?.phase ?? 'Pending') === 'Pending') expect((await rig.ann.decide('approve', pending, 'ship it')).code).toBe(0);
      await requestFor(ns, 'deploy', args, (r) => r.status?.phase !== 'Pending');
      return { action: 'accept' };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(envoy.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const result = await client.callTool({ name: 'deploy', arguments: args });
      expect(result.content).toEqual([{ type: 'text', text: `called deploy with ${JSON.stringify(args)}` }]);
      const pending = await requestFor(ns, 'deploy', args);
      expect(asked[0]).toMatchObject({ mode: 'url', url: `urn:toolgate:approvalrequest:${ns}:${pending.metadata.name}` });
      expect(asked[0]!.message).toContain(`kubectl mcp approve ${pending.metadata.name} -n ${ns}`);
      expect(rig.deploys(args)).toBe(1);
      // The retry reached the upstream as the client sent it: toolgate's input response beside
      // the arguments (which the server ignored), and no requestState, which toolgate never gave.
      const reached = rig.upstream.seen.filter((s) => JSON.stringify((s.body as { params?: { arguments?: unknown } }).params?.arguments) === JSON.stringify(args));
      expect(reached).toHaveLength(1);
      const params = (reached[0]!.body as { params: Record<string, unknown> }).params;
      expect(params.inputResponses).toMatchObject({ 'io.toolgate/approval': { action: 'accept' } });
      expect(params.requestState).toBeUndefined();
      await waitFor(async () => (await requestFor(ns, 'deploy', args)).status?.phase === 'Consumed', { description: 'the approval consumed' });
    } finally {
      await client.close();
    }
  });

  it('bind the approval to the caller and the exact arguments; a declined elicitation gets the pending error; a spent approval runs nothing more', async () => {
    const args = { text: `bound ${randomUUID()}` };
    const alice = await rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const first = await rig.rawCall(envoy.url, alice, args);
    expect(first.status).toBe(200);
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { 'io.toolgate/approval': { method: 'elicitation/create', params: { mode: 'url' } } } });
    expect(first.body.result).not.toHaveProperty('requestState');
    const pending = await requestFor(ns, 'deploy', args);
    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'deploy', args, phaseIs('Approved'));
    const retryExtra = { inputResponses: { 'io.toolgate/approval': { action: 'accept' } } };

    const bob = await rig.issuer.mint({ sub: 'bob', azp: 'agent-2' });
    const other = await rig.rawCall(envoy.url, bob, args, retryExtra);
    expect(other.body.result).toMatchObject({ resultType: 'input_required' });
    const changed = await rig.rawCall(envoy.url, alice, { text: `${args.text}!` }, retryExtra);
    expect(changed.body.result).toMatchObject({ resultType: 'input_required' });
    expect(rig.deploys(args)).toBe(0);
    const declined = await rig.rawCall(envoy.url, alice, { text: `${args.text}!` }, { inputResponses: { 'io.toolgate/approval': { action: 'decline' } } });
    expect(declined.body.error?.code).toBe(ErrorCodes.approvalRequired);

    const retried = await rig.rawCall(envoy.url, alice, args, retryExtra);
    expect(retried.status).toBe(200);
    expect(retried.body.result).toMatchObject({ content: [{ type: 'text', text: `called deploy with ${JSON.stringify(args)}` }] });
    expect(rig.deploys(args)).toBe(1);
    const again = await rig.rawCall(envoy.url, alice, args, retryExtra);
    expect(again.body.result?.content).toBeUndefined();
    expect(rig.deploys(args)).toBe(1);
  });

  it('answer a client that cannot do URL-mode elicitation with the approvalRequired error', async () => {
    const args = { text: `no-url ${randomUUID()}` };
    const alice = await rig.issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const res = await rig.rawCall(envoy.url, alice, args, { _meta: { ...meta, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } });
    expect(res.body.error?.code).toBe(ErrorCodes.approvalRequired);
    expect(res.body.error?.message).toMatch(/kubectl mcp approve/);
    expect(rig.deploys(args)).toBe(0);
  });
});
