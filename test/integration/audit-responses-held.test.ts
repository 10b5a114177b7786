// Response records on the held path (compliance row A4): a call the policy holds for approval is
// released by a real approver (`kubectl mcp approve` code, minted user) over the real control
// plane, and the answer the upstream gives the released call is recorded like any other: the
// decision (pending), the approval outcome (approved, by whom), then a response line naming the
// same decision, redacted; a denied held call has no response line. The authorizer replica is a
// real ApprovalCoordinator + proxy with the real audit trail on a file.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { ApprovalCoordinator, approvalPolicy as policyView } from '../../authorizer/src/approvals/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { withNamespace } from '../harness/kube.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';
import { log, requestFor } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { connectClient, loadPolicy } from './proxy-support.ts';

const ns = withNamespace('audit-held');
let rig: ApprovalRig;
let trail: AuditTrail;
let file: string;
let coordinator: ApprovalCoordinator;
let proxy: McpProxy;

beforeAll(async () => {
  rig = await startApprovalRig(ns);
  file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-held-')), 'audit.jsonl');
  trail = await AuditTrail.open({ file, log, fsync: false, instance: 'authorizer-held' });
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, rig.policy, 'rev-1');
  coordinator = new ApprovalCoordinator({
    client: new KubeClient(rig.ids.authorizer), pod: 'authorizer-held', log, registry: new Registry(),
    policy: policyView(router, (call) => gate.decisionPath.decide(call)), onOutcome: (e) => trail.recordApproval(e),
  });
  await coordinator.start();
  const verifier = createTokenVerifier(gateway.identity!, {});
  const gate: Gate = new Gate({
    router, log, catalog: anyNameCatalog, approvals: coordinator, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
    onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r), onResponse: (e) => trail.recordResponse(e),
  });
  proxy = await startMcpProxy({ gate, approvalMode: 'hold', approvalKeepAliveMs: 200, log });
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await coordinator?.stop();
  await rig?.close();
  await trail?.close();
});

type Line = Record<string, unknown>;
const records = (): Line[] => readFileSync(file, 'utf8').split('\n').slice(1, -1).map((l) => JSON.parse(l) as Line);

describe('audit response records of held calls', () => {
  it('records the answer to a released call against its decision, after the approval; none for a denied one', async () => {
    const { client } = await connectClient(proxy.url, await rig.token());
    const released = { message: `held for erin.h@example.com ${randomUUID()}` };
    const refused = { message: `refuse me ${randomUUID()}` };
    try {
      const call = client.callTool({ name: 'echo', arguments: released }, undefined, { timeout: 120_000 });
      expect((await rig.ann.decide('approve', await requestFor(ns, 'echo', released), 'fine')).code).toBe(0);
      expect(JSON.stringify((await call).content)).toContain('erin.h@example.com');
      const denied = client.callTool({ name: 'echo', arguments: refused }, undefined, { timeout: 120_000 }).then(() => undefined, (e: unknown) => e);
      expect((await rig.ann.decide('deny', await requestFor(ns, 'echo', refused), 'no')).code).toBe(0);
      expect(await denied).toBeInstanceOf(Error);
    } finally {
      await client.close();
    }
    await trail.flush();
    const all = records();
    const decisions = all.filter((l) => l.type === 'decision' && l.tool === 'echo');
    expect(decisions.map((d) => [d.action, d.approval])).toEqual([['require_approval', 'pending'], ['require_approval', 'pending']]);
    const [first, second] = decisions.map((d) => d.decisionId);
    const about = (id: unknown) => all.filter((l) => l.decisionId === id && l.type !== 'decision').map((l) => [l.type, l.type === 'approval' ? l.approval : l.status]);
    // Released: the approval, then the answer's record; denied: the rejection only.
    expect(about(first)).toEqual(expect.arrayContaining([['approval', 'approved'], ['response', 'success']]));
    const seqOf = (type: string, id: unknown) => all.find((l) => l.type === type && l.decisionId === id && (type !== 'approval' || l.approval === 'approved'))?.seq as number;
    expect(seqOf('response', first)).toBeGreaterThan(seqOf('approval', first));
    expect(about(second)).toContainEqual(['approval', 'rejected']);
    expect(about(second).filter(([t]) => t === 'response')).toEqual([]);
    const response = all.find((l) => l.type === 'response' && l.decisionId === first);
    expect(response).toMatchObject({ server: 'everything', tool: 'echo', outcome: expect.stringContaining('[REDACTED:email]') });
    expect(readFileSync(file, 'utf8')).not.toContain('erin.h@example.com');
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: all.length });
  });
});
