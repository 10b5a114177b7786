// Approvals in the 2026-07-28 protocol's terms (MRTR) through the Envoy ext_authz front end: the
// real gRPC ext_authz server behind a loopback stand-in for Envoy's filter chain
// (test/support/envoy-http-front.ts), the real API server, operator, admission policy and
// `kubectl mcp approve`, the v2 SDK client and a real 2026-07-28 server. A held tools/call is
// answered with an InputRequiredResult without requestState (Envoy forwards the retry's body as
// sent, so toolgate must need nothing removed); the retry proceeds once approved, only for the
// same caller and the exact arguments; the upstream sees toolgate's input response and ignores it.
import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { ApprovalCoordinator, approvalPolicy as policyView } from '../../authorizer/src/approvals/index.ts';
import { UpstreamToolCatalog } from '../../authorizer/src/catalog/index.ts';
import { startExtAuthzServer, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { ErrorCodes, Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { modernToolLister } from '../../authorizer/src/proxy/stateless/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { startMcp2026Server, type Mcp2026Server } from '../fixtures/mcp-2026/server.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import { startEnvoyHttpFront, type EnvoyHttpFront } from '../support/envoy-http-front.ts';
import { approver, approverRbac, bindAdmission, identities, log, phaseIs, requestFor, startTestOperator, type Approver } from './approvals-e2e-support.ts';
import { audience, loadPolicy } from './proxy-support.ts';

const ns = withNamespace('mcp2026-approvals-ea');
const version = '2026-07-28';
const caps = { elicitation: { url: {} } };
const meta = { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': caps };

let issuer: TestIssuer;
let upstream: Mcp2026Server;
let operator: RunningOperator;
let unbind: () => Promise<void>;
let coordinator: ApprovalCoordinator;
let catalog: UpstreamToolCatalog;
let extAuthz: ExtAuthzServer;
let envoy: EnvoyHttpFront;
let ann: Approver;

function policy(url: string): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: ns, name: 'agents' },
    spec: {
      servers: [{ name: 'fixture', url }],
      policies: [{ name: 'deploy-needs-sre', priority: 10, when: { tools: ['deploy'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

beforeAll(async () => {
  const ids = await identities(ns);
  await approverRbac(ns, ['sre']);
  ann = await approver('ann', ['sre']);
  unbind = await bindAdmission(ns);
  operator = await startTestOperator(ids.operator, ns);
  issuer = await startJwtIssuer({ audience });
  upstream = await startMcp2026Server([{ name: 'deploy' }]);
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy(upstream.url), 'rev-1');
  coordinator = new ApprovalCoordinator({ client: new KubeClient(ids.authorizer), pod: 'authorizer-2026-ea', log, registry: new Registry(), policy: policyView(router, (call) => gate.decisionPath.decide(call)) });
  await coordinator.start();
  const verifier = createTokenVerifier(gateway.identity!, {});
  catalog = new UpstreamToolCatalog({ router, lister: modernToolLister({ headers: async () => ({}), log }), log });
  const gate: Gate = new Gate({ router, log, catalog, approvals: coordinator, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  extAuthz = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log, gate });
  envoy = await startEnvoyHttpFront({ extAuthzPort: extAuthz.port, upstreamUrl: upstream.url, server: 'fixture' });
}, 180_000);

afterAll(async () => {
  await envoy?.close();
  await extAuthz?.close();
  await catalog?.close();
  await coordinator?.stop();
  await operator?.stop();
  await unbind?.();
  await upstream?.close();
  await issuer?.close();
});

const deploys = (args: Record<string, unknown>) => upstream.calls().filter((c) => c.name === 'deploy' && JSON.stringify(c.arguments) === JSON.stringify(args)).length;

async function rawCall(token: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}, id: number | string = randomUUID()): Promise<{ status: number; body: { result?: Record<string, unknown>; error?: { code: number; message: string } } }> {
  const res = await fetch(envoy.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, 'mcp-method': 'tools/call', 'mcp-name': 'deploy' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'deploy', arguments: args, _meta: meta, ...extra } }),
  });
  return { status: res.status, body: await res.json() as never };
}

describe('held calls for 2026-07-28 clients through ext_authz (multi round-trip)', () => {
  it('answer with an InputRequiredResult (no requestState) naming the approvers and the command; the v2 client\'s retry proceeds once approved', async () => {
    const args = { text: `release ${randomUUID()}` };
    const token = await issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const client = new Client({ name: 'v2-agent', version: '1.0.0' }, { capabilities: caps, versionNegotiation: { mode: { pin: version } } });
    const asked: Array<{ mode?: string; message: string; url?: string }> = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; message: string; url?: string };
      asked.push(params);
      const pending = await requestFor(ns, 'deploy', args);
      if ((pending.status?.phase ?? 'Pending') === 'Pending') expect((await ann.decide('approve', pending, 'ship it')).code).toBe(0);
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
      expect(deploys(args)).toBe(1);
      // The retry reached the upstream as the client sent it: toolgate's input response beside
      // the arguments (which the server ignored), and no requestState, which toolgate never gave.
      const reached = upstream.seen.filter((s) => JSON.stringify((s.body as { params?: { arguments?: unknown } }).params?.arguments) === JSON.stringify(args));
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
    const alice = await issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const first = await rawCall(alice, args);
    expect(first.status).toBe(200);
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { 'io.toolgate/approval': { method: 'elicitation/create', params: { mode: 'url' } } } });
    expect(first.body.result).not.toHaveProperty('requestState');
    const pending = await requestFor(ns, 'deploy', args);
    expect((await ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'deploy', args, phaseIs('Approved'));
    const retryExtra = { inputResponses: { 'io.toolgate/approval': { action: 'accept' } } };

    const bob = await issuer.mint({ sub: 'bob', azp: 'agent-2' });
    const other = await rawCall(bob, args, retryExtra);
    expect(other.body.result).toMatchObject({ resultType: 'input_required' });
    const changed = await rawCall(alice, { text: `${args.text}!` }, retryExtra);
    expect(changed.body.result).toMatchObject({ resultType: 'input_required' });
    expect(deploys(args)).toBe(0);
    const declined = await rawCall(alice, { text: `${args.text}!` }, { inputResponses: { 'io.toolgate/approval': { action: 'decline' } } });
    expect(declined.body.error?.code).toBe(ErrorCodes.approvalRequired);

    const retried = await rawCall(alice, args, retryExtra);
    expect(retried.status).toBe(200);
    expect(retried.body.result).toMatchObject({ content: [{ type: 'text', text: `called deploy with ${JSON.stringify(args)}` }] });
    expect(deploys(args)).toBe(1);
    const again = await rawCall(alice, args, retryExtra);
    expect(again.body.result?.content).toBeUndefined();
    expect(deploys(args)).toBe(1);
  });

  it('answer a client that cannot do URL-mode elicitation with the approvalRequired error', async () => {
    const args = { text: `no-url ${randomUUID()}` };
    const alice = await issuer.mint({ sub: 'alice', azp: 'agent-1' });
    const res = await rawCall(alice, args, { _meta: { ...meta, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } });
    expect(res.body.error?.code).toBe(ErrorCodes.approvalRequired);
    expect(res.body.error?.message).toMatch(/kubectl mcp approve/);
    expect(deploys(args)).toBe(0);
  });
});
