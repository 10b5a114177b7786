// The ApprovalRequest controller in the real operator, running as its own service account under
// the shipped admission policy: phases from people's decisions, expiry on time, Events, chat
// notifications through a flaky loopback webhook, restart convergence and garbage collection.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest, Condition } from '../../api/v1alpha1/index.ts';
import type { ChatMessage } from '../../operator/src/controllers/approval-message.ts';
import { isNotFound } from '../../pkg/kube/client.ts';
import { startOperator, type RunningOperator } from '../../operator/src/operator.ts';
import { anApprovalRequest, uniqueName, waitFor } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';
import { admin, approvalRef, decide, refusal, withApprovalNamespace } from './approval-admission-support.ts';

const env = withApprovalNamespace('arc');
const { ns } = env;
const quiet = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A chat webhook that answers 503 to the first attempt of every message, then 200. */
const hook = { server: createServer(), seen: new Map<string, number>(), delivered: [] as ChatMessage[] };
hook.server.on('request', (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const n = (hook.seen.get(body) ?? 0) + 1;
    hook.seen.set(body, n);
    if (n === 1) { res.writeHead(503).end(); return; }
    hook.delivered.push(JSON.parse(body) as ChatMessage);
    res.writeHead(200).end('ok');
  });
});

// The name the shipped operator RBAC lets it read (config/rbac/namespace_role.yaml).
const webhookSecret = 'toolgate-approval-webhook';
let op: RunningOperator | undefined;
async function startOp(identity: string, retentionMs?: number): Promise<RunningOperator> {
  const started = await startOperator({
    kubeConfig: await env.operatorConfig(), leaseNamespace: ns, watchNamespace: ns, identity, probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(), log: quiet,
    leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300,
    approvals: { namespaces: [ns], webhook: { secret: { namespace: ns, name: webhookSecret } }, ...(retentionMs ? { retentionMs } : {}) },
  });
  await waitFor(() => started.isLeader(), { description: `${identity} to lead`, timeoutMs: 20_000 });
  return started;
}

beforeAll(async () => {
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hooks/secret-path`;
  await admin().create({ group: '', version: 'v1', plural: 'secrets', namespace: ns }, {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: webhookSecret, namespace: ns }, stringData: { url },
  });
  op = await startOp('replica-a');
}, 60_000);

afterAll(async () => {
  await op?.stop();
  hook.server.closeAllConnections();
  await new Promise((r) => (hook.server as Server).close(r));
});

async function held(opts: { quorum?: number; expiresInMs?: number } = {}): Promise<string> {
  const b = anApprovalRequest(uniqueName('ar')).inNamespace(ns).requestedBy('mail-assistant', 'alice')
    .forCall('gmail', 'send_email', 'create', { to: ['bob@partner.example'], apiKey: '[REDACTED]' })
    .withApprovers(['mail-approvers'], opts.quorum ?? 1);
  if (opts.expiresInMs) b.expiringAt(new Date(Date.now() + opts.expiresInMs));
  const ar = b.build();
  await env.authorizer().create(approvalRef(ns), ar, 'toolgate-authorizer');
  return ar.metadata.name ?? '';
}

const get = (name: string) => admin().get<ApprovalRequest>(approvalRef(ns, name));
const decided = (ar: ApprovalRequest): Condition | undefined => ar.status?.conditions?.find((c) => c.type === 'Decided');
async function phaseOf(name: string, phase: string, timeoutMs = 15_000): Promise<ApprovalRequest> {
  return waitFor(async () => { const ar = await get(name); return ar.status?.phase === phase ? ar : undefined; }, { description: `${name} to be ${phase}`, timeoutMs });
}
async function eventsFor(name: string): Promise<Array<{ reason: string; type: string; note: string }>> {
  const list = await admin().list<{ reason: string; type: string; note: string; regarding: { name: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace: ns });
  return list.items.filter((e) => e.regarding.name === name);
}

describe('ApprovalRequest controller', () => {
  it('a member\'s approval makes it Approved, with Events and a chat message delivered despite a failing first attempt', async () => {
    const name = await held();
    const pending = await phaseOf(name, 'Pending');
    expect(decided(pending)).toMatchObject({ status: 'False', reason: 'AwaitingApproval', observedGeneration: 1 });
    const bob = await env.person('bob', ['mail-approvers']);
    await decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' });
    const approved = await phaseOf(name, 'Approved');
    expect(decided(approved)).toMatchObject({ status: 'True', reason: 'Approved', message: 'approved by bob (quorum 1)', observedGeneration: 1 });

    const events = await waitFor(async () => { const e = await eventsFor(name); return e.length >= 2 ? e : undefined; }, { description: 'two Events' });
    const requested = events.find((e) => e.reason === 'ApprovalRequested');
    expect(requested?.type).toBe('Normal');
    expect(requested?.note).toContain(`mail-assistant on behalf of alice asks to call gmail/send_email (create; rule approve-external-communication`);
    expect(requested?.note).toContain(`a member of mail-approvers decides (1 needed)`);
    expect(requested?.note).toContain(`kubectl mcp approve ${name} -n ${ns}`);
    expect(events.find((e) => e.reason === 'Approved')?.note).toBe('approved by bob (quorum 1)');

    const messages = await waitFor(() => {
      const mine = hook.delivered.filter((m) => JSON.stringify(m).includes(name));
      return mine.length >= 2 ? mine : undefined;
    }, { description: 'both chat messages' });
    expect(messages.map((m) => m.text.split(':')[0])).toEqual(['Approval needed', 'Approved']);
    expect(JSON.stringify(messages[0])).toContain(`kubectl mcp approve ${name} -n ${ns}`);
    expect(JSON.stringify(messages[0])).toContain('apiKey: [REDACTED]');
    // Each was refused once (503) and delivered on the retry, exactly once.
    for (const m of messages) expect(hook.seen.get(JSON.stringify(m))).toBe(2);
  });

  it('a quorum of 2 needs two distinct approvers', async () => {
    const name = await held({ quorum: 2 });
    const bob = await env.person('bob', ['mail-approvers']);
    const carol = await env.person('carol', ['mail-approvers']);
    await decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' });
    await waitFor(async () => decided(await get(name))?.message.includes('approved so far by bob'), { description: 'one approval counted' });
    expect((await get(name)).status?.phase).toBe('Pending');
    expect(await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' }))).toContain('a quorum needs distinct people');
    await decide(carol, ns, name, { user: 'carol', groups: ['mail-approvers'], decision: 'approve' });
    expect(decided(await phaseOf(name, 'Approved'))?.message).toBe('approved by bob, carol (quorum 2)');
  });

  it('any denial makes it Denied', async () => {
    const name = await held({ quorum: 2 });
    const bob = await env.person('bob', ['mail-approvers']);
    const carol = await env.person('carol', ['mail-approvers']);
    await decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' });
    await decide(carol, ns, name, { user: 'carol', groups: ['mail-approvers'], decision: 'deny', reason: 'wrong recipient' });
    expect(decided(await phaseOf(name, 'Denied'))).toMatchObject({ reason: 'Denied', message: 'denied by carol (wrong recipient)' });
  });

  it('expires at expiresAt without polling, and an approval afterwards changes nothing', async () => {
    const name = await held({ expiresInMs: 3000 });
    const expiresAt = Date.parse((await get(name)).spec.expiresAt);
    await phaseOf(name, 'Pending');
    const expired = await phaseOf(name, 'Expired', 20_000);
    // Not early: the transition (second precision) is at or after expiresAt.
    expect(Date.parse(decided(expired)?.lastTransitionTime ?? '')).toBeGreaterThanOrEqual(expiresAt);
    expect(decided(expired)?.message).toContain('with 0 of 1 approval; the call was aborted');
    const bob = await env.person('bob', ['mail-approvers']);
    expect(await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' })))
      .toContain(`ApprovalRequest ${name} is already Expired`);
    expect((await get(name)).status?.phase).toBe('Expired');
  });

  it('exports requests by phase and the time to decision', async () => {
    const text = await (await fetch(`http://127.0.0.1:${op?.probe.port}/metrics`)).text();
    const value = (re: RegExp) => Number(text.split('\n').find((l) => re.test(l))?.split(' ').at(-1) ?? 'NaN');
    expect(value(/^toolgate_approval_requests\{phase="Approved"\}/)).toBeGreaterThanOrEqual(2);
    expect(value(/^toolgate_approval_requests\{phase="Expired"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^toolgate_approval_decision_seconds_count\{phase="Approved"\}/)).toBeGreaterThanOrEqual(2);
    expect(value(/^toolgate_approval_notifications_total\{event="Requested",outcome="delivered"\}/)).toBeGreaterThanOrEqual(1);
  });

  it('converges after the operator was down, and deletes settled requests after the retention', async () => {
    await op?.stop();
    op = undefined;
    const approvedWhileDown = await held();
    const expiringWhileDown = await held({ expiresInMs: 1500 });
    const bob = await env.person('bob', ['mail-approvers']);
    await decide(bob, ns, approvedWhileDown, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' });
    // Nobody is watching while it passes its expiry.
    const expiresAt = Date.parse((await get(expiringWhileDown)).spec.expiresAt);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
    expect((await get(approvedWhileDown)).status?.phase).toBeUndefined();
    expect((await get(expiringWhileDown)).status?.phase).toBeUndefined();

    op = await startOp('replica-b', 2000);
    await phaseOf(approvedWhileDown, 'Approved');
    await phaseOf(expiringWhileDown, 'Expired');
    // Expired settled at expiresAt, so it goes after the 2 s retention; the Approved one is kept
    // until its expiry (the authorizer may still release it) plus the retention.
    await waitFor(async () => get(expiringWhileDown).then(() => false, (e: unknown) => isNotFound(e)), { description: 'the expired request to be deleted', timeoutMs: 20_000 });
    expect((await get(approvedWhileDown)).status?.phase).toBe('Approved');
  });
});
