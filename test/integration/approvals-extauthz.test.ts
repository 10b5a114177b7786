// The Envoy ext_authz front end in retry mode: a held tools/call is denied with the approval
// reference; once a human approves (and the real operator marks it Approved) the identical call
// is allowed once; a denial is answered with who denied. Real gRPC over the official protos, real
// API server, real operator, approvers deciding with the `kubectl mcp` code.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApprovalCoordinator, approvalPolicy } from '../../authorizer/src/approvals/index.ts';
import { startExtAuthzServer, type CheckResponse, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { authorizationClient, checkOnce, envoyCheckRequest, toolsCall } from '../support/extauthz.ts';
import { ErrorCodes, Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { JsonNumber } from '../../pkg/json/strict.ts';
import { withNamespace } from '../harness/kube.ts';
import { log, phaseIs, requestFor } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { loadPolicy } from './proxy-support.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';

const ns = withNamespace('approvals-ea');
let rig: ApprovalRig;
let coordinator: ApprovalCoordinator;
let server: ExtAuthzServer;
let grpc: ReturnType<typeof authorizationClient>;
let token: string;

beforeAll(async () => {
  rig = await startApprovalRig(ns);
  const router = new PolicyRouter();
  await loadPolicy(router, rig.policy, 'rev-1');
  coordinator = new ApprovalCoordinator({ client: new KubeClient(rig.ids.authorizer), pod: 'authorizer-e', log, policy: approvalPolicy(router, (call) => gate.decisionPath.decide(call)) });
  await coordinator.start();
  const gate: Gate = new Gate({ router, log, catalog: anyNameCatalog, approvals: coordinator });
  server = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log, gate });
  grpc = authorizationClient(server.port);
  token = await rig.token();
}, 180_000);

afterAll(async () => {
  grpc?.close();
  await server?.close();
  await coordinator?.stop();
  await rig?.close();
});

const check = (args: Record<string, unknown>) => checkOnce(grpc, envoyCheckRequest({ server: 'everything', body: toolsCall('echo', args, 7), headers: { authorization: `Bearer ${token}` } }));

function denial(res: CheckResponse) {
  expect(res.ok_response).toBeUndefined();
  return JSON.parse(res.denied_response!.body) as { id: unknown; error: { code: number; message: string; data: Record<string, unknown> } };
}

describe('ext_authz retry mode', () => {
  it('denies with the approval reference, then allows the identical call once after approval', async () => {
    const args = { message: `envoy ${randomUUID()}` };
    const first = denial(await check(args));
    expect(first.id).toBe(7);
    expect(first.error.code).toBe(ErrorCodes.approvalRequired);
    const pending = await requestFor(ns, 'echo', args);
    expect(first.error.data).toMatchObject({ approval: { namespace: ns, name: pending.metadata.name }, approve: `kubectl mcp approve ${pending.metadata.name} -n ${ns}`, rule: 'echo-needs-sre' });
    expect(pending.spec.requester).toEqual({ agent: 'agent-1', operator: 'alice' });

    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'echo', args, phaseIs('Approved'));
    const allowed = await check(args);
    expect(allowed.status.code).toBe(0);
    expect(allowed.ok_response).toBeDefined();
    expect((await requestFor(ns, 'echo', args, phaseIs('Consumed'))).status?.consumedBy).toBe('authorizer-e');

    // The approval is spent: the next identical call needs a new one.
    const again = denial(await check(args));
    expect(again.error.code).toBe(ErrorCodes.approvalRequired);
    expect(again.error.data).toMatchObject({ phase: 'Pending' });
  });

  // Regression (issue 10): the digest covered JSON.parse's reading of the arguments, and Envoy
  // forwards the original bytes, so approving n = 1234567890123456789 released n =
  // 1234567890123456700 (both parse to 1234567890123456800). Fails on the code before.
  it('binds the approval to the exact digits Envoy forwards: approving one number does not release its rounded neighbour', async () => {
    const message = `envoy digits ${randomUUID()}`;
    const body = (n: string) => `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"message":${JSON.stringify(message)},"n":${n}}}}`;
    const send = (n: string) => checkOnce(grpc, envoyCheckRequest({ server: 'everything', body: body(n), headers: { authorization: `Bearer ${token}` } }));
    expect(denial(await send('1234567890123456789')).error.code).toBe(ErrorCodes.approvalRequired);
    const pending = await requestFor(ns, 'echo', { message, n: new JsonNumber('1234567890123456789') });
    expect((await rig.ann.decide('approve', pending)).code).toBe(0);
    await requestFor(ns, 'echo', { message, n: new JsonNumber('1234567890123456789') }, phaseIs('Approved'));
    for (const neighbour of ['1234567890123456700', '1234567890123456800', '1.2345678901234568e18']) {
      const other = denial(await send(neighbour));
      expect(other.error.code, neighbour).toBe(ErrorCodes.approvalRequired);
      expect((other.error.data.approval as { name: string }).name, neighbour).not.toBe(pending.metadata.name);
    }
    expect((await send('1234567890123456789')).status.code).toBe(0);
  });

  it('a denial is answered with who denied and why', async () => {
    const args = { message: `envoy deny ${randomUUID()}` };
    expect(denial(await check(args)).error.code).toBe(ErrorCodes.approvalRequired);
    const pending = await requestFor(ns, 'echo', args);
    expect((await rig.bob.decide('deny', pending, 'wrong recipient')).code).toBe(0);
    await requestFor(ns, 'echo', args, phaseIs('Denied'));
    const denied = await check(args);
    // 200 with the JSON-RPC error, as the proxy answers it (gate/README.md).
    expect(denied.denied_response!.status.code as unknown).toBe('OK');
    const body = denial(denied);
    expect(body.error.code).toBe(ErrorCodes.approvalDenied);
    expect(body.error.message).toContain('bob ("wrong recipient")');
  });
});
