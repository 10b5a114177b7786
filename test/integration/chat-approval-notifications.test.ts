// Durable chat-notification dedupe (issue 13): the delivery record lives on the ApprovalRequest
// (status.notifications, written as the operator's real service account through the shipped
// admission policy), so a notifier killed between any two steps and started again neither loses
// the message nor sends it more than the protocol allows: one duplicate when the kill falls
// between the webhook's 200 and the Sent record, none otherwise. A real HTTP server plays the
// chat webhook; the operator end to end announces a request once across a restart.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { anApprovalRequest, uniqueName, waitFor } from '../harness/kube.ts';
import { requestedMessage } from '../../operator/src/controllers/approval-message.ts';
import { NotificationLedger, statusRecords, type CrashPoint } from '../../operator/src/controllers/approval-notification-ledger.ts';
import { WebhookNotifier } from '../../operator/src/controllers/approval-notifier.ts';
import { startOperator } from '../../operator/src/operator.ts';
import { operatorBundles } from '../harness/operator.ts';
import { admin, approvalRef, withApprovalNamespace } from './approval-admission-support.ts';
import { log } from './approvals-e2e-support.ts';

const env = withApprovalNamespace('notify');
const { ns } = env;

let hook: { server: Server; url: string; received: Array<{ text: string; blocks: Array<{ type: string; elements?: Array<{ text?: string }> }> }> };
let operatorClient: KubeClient;

beforeAll(async () => {
  const received: typeof hook.received = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof received)[number]);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hook = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/x`, received };
  operatorClient = new KubeClient(await env.operatorConfig());
});

afterAll(async () => {
  await new Promise<void>((r) => (hook?.server ? hook.server.close(() => r()) : r()));
});

async function held(): Promise<ApprovalRequest> {
  const ar = anApprovalRequest(uniqueName('ar')).inNamespace(ns).requestedBy('mail-assistant', 'alice').withApprovers(['sre'], 1).build();
  await env.authorizer().create(approvalRef(ns), ar, 'toolgate-authorizer');
  return admin().get<ApprovalRequest>(approvalRef(ns, ar.metadata.name));
}

const read = (ar: ApprovalRequest) => admin().get<ApprovalRequest>(approvalRef(ns, ar.metadata.name));
/** Messages the webhook received about this request (its name is in every message). */
const messagesAbout = (ar: ApprovalRequest) => hook.received.filter((m) => JSON.stringify(m).includes(ar.metadata.name!)).length;

/** A notifier process: its own in-memory state, records on the request as the operator. */
function process_(crashAt?: CrashPoint, maxAttempts = 3): NotificationLedger {
  const notifier = new WebhookNotifier({ url: async () => hook.url, log, maxAttempts: 2, backoff: { initialMs: 10, maxMs: 20 } });
  return new NotificationLedger({
    notifier, records: statusRecords(operatorClient), log, maxAttempts,
    ...(crashAt ? { crash: (point: CrashPoint) => { if (point === crashAt) throw new Error(`killed at ${point}`); } } : {}),
  });
}

async function announce(ledger: NotificationLedger, ar: ApprovalRequest): Promise<void> {
  await ledger.reconcile(ar, [{ event: 'Requested', message: requestedMessage(ar), at: Date.now() }]);
}

describe('a notifier killed between steps, then restarted', () => {
  it('before the Sending record: nothing was sent, the restart sends it once', async () => {
    const ar = await held();
    await expect(announce(process_('before-sending-record'), ar)).rejects.toThrow('killed');
    expect(messagesAbout(ar)).toBe(0);
    expect((await read(ar)).status?.notifications).toBeUndefined();
    await announce(process_(), await read(ar));
    expect(messagesAbout(ar)).toBe(1);
    expect((await read(ar)).status?.notifications).toEqual([expect.objectContaining({ event: 'Requested', state: 'Sent', attempts: 1 })]);
  });

  it('after the Sending record, before the send: the restart sends it once', async () => {
    const ar = await held();
    await expect(announce(process_('after-sending-record'), ar)).rejects.toThrow('killed');
    expect(messagesAbout(ar)).toBe(0);
    expect((await read(ar)).status?.notifications).toEqual([expect.objectContaining({ event: 'Requested', state: 'Sending', attempts: 1 })]);
    await announce(process_(), await read(ar));
    expect(messagesAbout(ar)).toBe(1);
    expect((await read(ar)).status?.notifications).toEqual([expect.objectContaining({ state: 'Sent', attempts: 2 })]);
  });

  it('after the send, before the Sent record: the one duplicate the protocol admits, then no more', async () => {
    const ar = await held();
    await expect(announce(process_('after-send'), ar)).rejects.toThrow('killed');
    expect(messagesAbout(ar)).toBe(1);
    await announce(process_(), await read(ar));
    expect(messagesAbout(ar)).toBe(2);
    await announce(process_(), await read(ar));
    expect(messagesAbout(ar)).toBe(2);
    expect((await read(ar)).status?.notifications).toEqual([expect.objectContaining({ state: 'Sent', attempts: 2 })]);
  });

  it('after the Sent record: a restart repeats nothing', async () => {
    const ar = await held();
    const first = process_();
    await announce(first, ar);
    // The same process again (the watch echo of its own write) and a restarted one.
    await announce(first, await read(ar));
    await announce(process_(), await read(ar));
    expect(messagesAbout(ar)).toBe(1);
  });

  it('killed mid-delivery again and again: given up after the bound, recorded as Failed', async () => {
    const ar = await held();
    await expect(announce(process_('after-sending-record', 2), ar)).rejects.toThrow('killed');
    await expect(announce(process_('after-sending-record', 2), await read(ar))).rejects.toThrow('killed');
    await announce(process_(undefined, 2), await read(ar));
    expect(messagesAbout(ar)).toBe(0);
    expect((await read(ar)).status?.notifications).toEqual([expect.objectContaining({ state: 'Failed', attempts: 2, message: expect.stringContaining('gave up after 2') })]);
  });
});

describe('the operator announces through the ledger', () => {
  it('once per request and outcome, across an operator restart', async () => {
    const start = async (identity: string) => {
      const op = await startOperator({
        kubeConfig: await env.operatorConfig(), leaseNamespace: ns, watchNamespace: ns, identity, probePort: 0, probeHost: '127.0.0.1', bundles: operatorBundles(), log,
        leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300, approvals: { namespaces: [ns], webhook: { url: hook.url } },
      });
      await waitFor(() => op.isLeader(), { description: 'the operator to lead', timeoutMs: 30_000 });
      return op;
    };
    let op = await start('notify-a');
    try {
      const ar = await held();
      await waitFor(async () => (await read(ar)).status?.notifications?.find((n) => n.event === 'Requested' && n.state === 'Sent'), { description: 'Requested recorded as Sent' });
      expect(messagesAbout(ar)).toBe(1);
      await op.stop();
      op = await start('notify-b');
      // The new leader re-derives every request on taking over. A second request it announces
      // proves it is reconciling; by then a repeat of the first would have gone out too.
      const second = await held();
      await waitFor(async () => (await read(second)).status?.notifications?.find((n) => n.state === 'Sent'), { description: 'the second request announced' });
      await new Promise((r) => setTimeout(r, 500));
      expect(messagesAbout(ar)).toBe(1);
      expect(messagesAbout(second)).toBe(1);
    } finally {
      await op.stop();
    }
  });
});
