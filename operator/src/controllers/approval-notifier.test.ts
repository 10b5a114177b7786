// The notifier against a real loopback HTTP server that fails on purpose, and the message
// content: who, what, why, how, and never a redacted or secret-looking value.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { decidedMessage, requestedMessage, type ChatMessage } from './approval-message.ts';
import { WebhookNotifier } from './approval-notifier.ts';
import { evaluateApproval } from '../../../pkg/approvals/phase.ts';

const quiet = pino({ level: 'silent' });

function request(): ApprovalRequest {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest',
    metadata: { name: 'ar-0123', namespace: 'mail', uid: 'u-1' },
    spec: {
      requester: { agent: 'mail-assistant', operator: 'alice@acme.com' },
      policyRef: { namespace: 'mail', name: 'acme' }, rule: 'approve-external', reason: 'recipient outside acme.com <scope:external>',
      server: 'gmail', tool: 'send_email', verb: 'create', labels: ['scope:external'],
      arguments: { to: ['bob@partner.example'], subject: 'Q3', apiKey: 'sk-live-123', body: '[REDACTED]', nested: { password: 'hunter2' } },
      argumentsDigest: `sha256:${'0'.repeat(64)}`, approvers: ['mail-approvers'], quorum: 1, expiresAt: '2026-03-01T11:00:00Z',
    },
  };
}

interface Hook { server: Server; url: string; bodies: ChatMessage[]; attempts: number }

async function hook(statusFor: (attempt: number) => number | 'drop'): Promise<Hook> {
  const h: Hook = { server: createServer(), url: '', bodies: [], attempts: 0 };
  h.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = statusFor(++h.attempts);
      if (s === 'drop') { req.socket.destroy(); return; }
      if (s < 300) h.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatMessage);
      res.writeHead(s, s === 429 ? { 'retry-after': '1' } : {}).end(s < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => h.server.listen(0, '127.0.0.1', r));
  h.url = `http://127.0.0.1:${(h.server.address() as AddressInfo).port}/services/T000/B000/secret`;
  return h;
}

let open: Hook | undefined;
async function close(h: Hook | undefined): Promise<void> {
  if (!h) return;
  h.server.closeAllConnections();
  await new Promise((r) => h.server.close(r));
}
afterEach(async () => { await close(open); open = undefined; });

describe('WebhookNotifier', () => {
  it('retries network errors and 5xx with backoff, then delivers once; a repeat of the same event is not re-sent', async () => {
    open = await hook((n) => (n === 1 ? 'drop' : n <= 3 ? 503 : 200));
    const registry = new Registry();
    const n = new WebhookNotifier({ url: async () => open?.url, log: quiet, registry, backoff: { initialMs: 5, maxMs: 20 } });
    const msg = requestedMessage(request());
    n.notify('u-1', 'Pending', msg);
    n.notify('u-1', 'Pending', msg);
    await n.idle();
    n.notify('u-1', 'Pending', msg);
    await n.idle();
    expect(open.attempts).toBe(4);
    expect(open.bodies).toEqual([msg]);
    const metrics = await registry.getSingleMetricAsString('toolgate_approval_notifications_total');
    expect(metrics).toContain('event="Pending",outcome="retried"} 3');
    expect(metrics).toContain('event="Pending",outcome="delivered"} 1');
  });

  it('does not retry a 4xx, and gives up after maxAttempts on persistent 5xx', async () => {
    open = await hook(() => 404);
    const n = new WebhookNotifier({ url: async () => open?.url, log: quiet, backoff: { initialMs: 1 } });
    n.notify('u-2', 'Pending', requestedMessage(request()));
    await n.idle();
    expect(open.attempts).toBe(1);

    const failing = await hook(() => 500);
    const m = new WebhookNotifier({ url: async () => failing.url, log: quiet, backoff: { initialMs: 1, maxMs: 2 }, maxAttempts: 3 });
    m.notify('u-3', 'Approved', requestedMessage(request()));
    await m.idle();
    expect(failing.attempts).toBe(3);
    await close(failing);
  });

  it('honours Retry-After on 429', async () => {
    const at: number[] = [];
    open = await hook((n) => { at.push(Date.now()); return n === 1 ? 429 : 200; });
    const n = new WebhookNotifier({ url: async () => open?.url, log: quiet, backoff: { initialMs: 1 } });
    n.notify('u-4', 'Denied', requestedMessage(request()));
    await n.idle();
    expect(open.attempts).toBe(2);
    expect(open.bodies).toHaveLength(1);
    // Retry-After: 1 (s) outweighs the 1 ms backoff.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });
});

describe('messages', () => {
  it('say who asks, what, why, who decides and how, without secrets or redacted values', () => {
    const msg = requestedMessage(request());
    const all = JSON.stringify(msg);
    expect(msg.text).toContain('mail-assistant for alice@acme.com wants to call gmail/send_email (create; rule approve-external)');
    expect(msg.text).toContain('kubectl mcp approve|deny ar-0123 -n mail');
    expect(all).toContain('kubectl mcp approve ar-0123 -n mail');
    expect(all).toContain('kubectl mcp show ar-0123 -n mail');
    expect(all).toContain('kubectl mcp deny ar-0123 -n mail');
    expect(all).toContain('`scope:external`');
    expect(all).toContain('`mail-approvers`');
    expect(all).toContain('recipient outside acme.com &lt;scope:external&gt;');
    expect(all).toContain('bob@partner.example');
    expect(all).not.toContain('sk-live-123');
    expect(all).not.toContain('hunter2');
    expect(all).toContain('apiKey: [REDACTED]');
    expect(msg.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Approval needed: gmail/send_email' } });
  });

  it('name the deciders on decision', () => {
    const ar = request();
    ar.status = { decisions: [{ user: 'bob', groups: ['mail-approvers'], decision: 'deny', reason: 'wrong recipient', time: '2026-03-01T10:01:00Z' }] };
    const msg = decidedMessage(ar, evaluateApproval(ar, Date.parse('2026-03-01T10:02:00Z')));
    expect(msg.text).toBe("Denied: mail-assistant's call to gmail/send_email — denied by bob (wrong recipient)");
  });
});
