// Approving from Slack end to end: the official MCP SDK client's call is held through the proxy
// (as in approvals-e2e), Slack-signed block_actions callbacks built from Slack's documented
// format reach the chat endpoint, which writes decisions AS the mapped identity (impersonation by
// a service account allowed to impersonate exactly the mapped identities) against the real API
// server and the shipped admission policy. The requester's and a non-member's clicks are refused
// by the API server, an unmapped user's by the endpoint; a mapped approver's releases the call,
// and a real local HTTP server standing in for Slack's response_url receives the message update.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { KubeClient, type KubeError } from '../../pkg/kube/client.ts';
import { EventRecorder } from '../../pkg/kube/events.ts';
import { serviceAccountKubeConfig } from '../harness/accounts.ts';
import { controlPlane, waitFor, withNamespace } from '../harness/kube.ts';
import { startChatEndpoint, type ChatEndpoint } from '../../operator/src/chat/chat-endpoint.ts';
import { impersonatorRole, parseIdentityMap } from '../../operator/src/chat/identity-map.ts';
import { impersonatingClient } from '../../operator/src/chat/impersonation.ts';
import { approveActionId, buttonValue, denyActionId } from '../../operator/src/chat/slack-interaction.ts';
import { slackSignature } from '../../operator/src/chat/slack-signature.ts';
import { configMapIdentities, secretSigningSecrets } from '../../operator/src/chat/sources.ts';
import { adminClient, log, phaseIs, requestFor, startReplica, systemNamespace, type Replica } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { connectClient } from './proxy-support.ts';

type ManagedMeta = { managedFields?: Array<{ manager: string; subresource?: string }> };

const ns = withNamespace('chat');
const signingSecret = `whsec-${randomUUID()}`;
const manager = 'toolgate-chat-test';
const team = 'T0CHAT';
// ann is in sre (the approvers); alice asked for the call; dave is in no approver group.
const identities = {
  [`slack.${team}.UANN`]: '{"username": "ann", "groups": ["sre"]}',
  [`slack.${team}.UALICE`]: '{"username": "alice", "groups": ["sre"]}',
  [`slack.${team}.UDAVE`]: '{"username": "dave", "groups": ["marketing"]}',
};
const chatSa = `toolgate-chat-${ns}`.slice(0, 63);
const rbac = (plural: string, name: string, namespace?: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, name, ...(namespace ? { namespace } : {}) });

let rig: ApprovalRig;
let replica: Replica;
let endpoint: ChatEndpoint;
let slack: { server: Server; url: string; bodies: Array<Record<string, unknown>> };
let chatConfig: Awaited<ReturnType<typeof serviceAccountKubeConfig>>;

beforeAll(async () => {
  rig = await startApprovalRig(ns);
  replica = await startReplica({ pod: 'authorizer-chat', kubeConfig: rig.ids.authorizer, policy: rig.policy });
  const admin = adminClient();
  const put = (ref: Parameters<KubeClient['apply']>[0], body: unknown) => admin.apply(ref, body, manager);
  // The chat endpoint's own identity: it may impersonate the mapped identities, read its Secret and
  // ConfigMap, and record Events; nothing else.
  await put({ group: '', version: 'v1', plural: 'serviceaccounts', namespace: systemNamespace, name: chatSa }, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: chatSa, namespace: systemNamespace } });
  const role = impersonatorRole(chatSa, parseIdentityMap(identities));
  await put(rbac('clusterroles', chatSa), role);
  await put(rbac('clusterrolebindings', chatSa), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: chatSa },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: chatSa }, subjects: [{ kind: 'ServiceAccount', name: chatSa, namespace: systemNamespace }],
  });
  await put({ group: '', version: 'v1', plural: 'secrets', namespace: ns, name: 'toolgate-chat-slack' }, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'toolgate-chat-slack', namespace: ns }, stringData: { 'signing-secret': signingSecret } });
  await put({ group: '', version: 'v1', plural: 'configmaps', namespace: ns, name: 'toolgate-chat-identities' }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'toolgate-chat-identities', namespace: ns }, data: identities });
  await put(rbac('roles', 'toolgate-chat', ns), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'toolgate-chat', namespace: ns },
    rules: [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['toolgate-chat-slack'], verbs: ['get'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['toolgate-chat-identities'], verbs: ['get'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  });
  await put(rbac('rolebindings', 'toolgate-chat', ns), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'toolgate-chat', namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'toolgate-chat' }, subjects: [{ kind: 'ServiceAccount', name: chatSa, namespace: systemNamespace }],
  });
  chatConfig = await serviceAccountKubeConfig(admin, controlPlane(), systemNamespace, chatSa);
  const own = new KubeClient(chatConfig);

  // Slack's response_url, played by a real HTTP server.
  const bodies: Array<Record<string, unknown>> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  slack = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/actions/${team}/1/`, bodies };

  endpoint = await startChatEndpoint({
    signingSecrets: secretSigningSecrets(own, { namespace: ns, name: 'toolgate-chat-slack' }),
    identities: configMapIdentities(own, { namespace: ns, name: 'toolgate-chat-identities' }),
    kubeConfig: chatConfig,
    events: new EventRecorder({ client: own, controller: 'toolgate.io/chat', instance: 'test', log }),
    log,
    responseUrlPattern: new RegExp(`^${slack.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  });
}, 180_000);

afterAll(async () => {
  await endpoint?.close();
  await new Promise<void>((r) => (slack?.server ? slack.server.close(() => r()) : r()));
  await replica?.close();
  await rig?.close();
  const admin = adminClient();
  await admin.delete(rbac('clusterrolebindings', chatSa)).catch(() => undefined);
  await admin.delete(rbac('clusterroles', chatSa)).catch(() => undefined);
});

/** A block_actions callback as Slack sends it: form-encoded `payload`, signed with the signing secret. */
function slackClick(user: string, ar: ApprovalRequest, actionId: string, o: { secret?: string; timestamp?: number } = {}): { body: string; headers: Record<string, string> } {
  const payload = {
    type: 'block_actions', user: { id: user, username: user.toLowerCase(), team_id: team }, api_app_id: 'A0CHAT', token: 'legacy-verification-token',
    container: { type: 'message', message_ts: '1548426417.840180', channel_id: 'C0APPROVALS', is_ephemeral: false },
    trigger_id: '12466734323.1395872398', team: { id: team, domain: 'acme' }, channel: { id: 'C0APPROVALS', name: 'approvals' },
    response_url: `${slack.url}${randomUUID()}`,
    actions: [{ action_id: actionId, block_id: 'toolgate.decide', text: { type: 'plain_text', text: 'Approve' }, value: buttonValue({ namespace: ar.metadata.namespace!, name: ar.metadata.name!, uid: ar.metadata.uid! }), type: 'button', action_ts: '1548426417.840180' }],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSignature(o.secret ?? signingSecret, timestamp, body) } };
}

async function post(req: { body: string; headers: Record<string, string> }): Promise<{ status: number; body: { ok: boolean; outcome: string; message: string } }> {
  const res = await fetch(endpoint.url, { method: 'POST', headers: req.headers, body: req.body });
  return { status: res.status, body: await res.json() as { ok: boolean; outcome: string; message: string } };
}

async function eventsFor(ar: ApprovalRequest, reason: string): Promise<Array<{ note?: string; type?: string }>> {
  const list = await adminClient().list<{ reason?: string; note?: string; type?: string; regarding?: { uid?: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace: ns });
  return list.items.filter((e) => e.reason === reason && e.regarding?.uid === ar.metadata.uid);
}

describe('approving a held call from Slack', () => {
  it('refuses the requester, a non-member and an unmapped user, then releases on a mapped approver\'s click', async () => {
    const { client } = await connectClient(replica.proxy.url, await rig.token());
    try {
      const args = { message: `chat ${randomUUID()}` };
      const call = client.callTool({ name: 'echo', arguments: args }, undefined, { timeout: 120_000 });
      const pending = await requestFor(ns, 'echo', args);
      expect(pending.spec.requester.operator).toBe('alice');

      // The requester, mapped to her own Kubernetes name: the admission policy refuses her.
      const self = await post(slackClick('UALICE', pending, approveActionId));
      expect(self.status).toBe(403);
      expect(self.body.outcome).toBe('refused-by-api');
      expect(self.body.message).toContain('alice asked for this call (spec.requester) and may not decide on it');
      // A mapped person outside the approver groups: RBAC refuses the impersonated read.
      const outsider = await post(slackClick('UDAVE', pending, approveActionId));
      expect(outsider.status).toBe(403);
      expect(outsider.body.outcome).toBe('refused-by-api');
      expect(outsider.body.message).toMatch(/"dave" cannot get resource "approvalrequests"/);
      // Someone nobody mapped: the endpoint refuses before any write.
      const stranger = await post(slackClick('UEVE', pending, approveActionId));
      expect(stranger.status).toBe(403);
      expect(stranger.body).toMatchObject({ outcome: 'unmapped', message: expect.stringContaining(`slack.${team}.UEVE`) });

      const stillPending = await adminClient().get<ApprovalRequest>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns, name: pending.metadata.name! });
      expect(stillPending.status?.decisions ?? []).toEqual([]);
      expect(rig.upstreamCalls('echo', args)).toBe(0);
      // Each refusal of a signed click is on the request's record, and told to the clicker.
      expect((await eventsFor(pending, 'ChatDecisionRefused')).length).toBe(2);
      expect(await eventsFor(pending, 'ChatUserUnmapped')).toEqual([expect.objectContaining({ type: 'Warning', note: expect.stringContaining('UEVE') })]);
      expect(slack.bodies.filter((b) => b.response_type === 'ephemeral' && String(b.text).startsWith('Refused:'))).toHaveLength(3);

      // ann, mapped and in sre: her click is her decision, and the held call is released.
      const ok = await post(slackClick('UANN', pending, approveActionId));
      expect(ok, JSON.stringify(ok.body)).toMatchObject({ status: 200, body: { outcome: 'decided' } });
      const result = await call;
      expect(result.content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
      expect(rig.upstreamCalls('echo', args)).toBe(1);
      const consumed = await requestFor(ns, 'echo', args, phaseIs('Consumed'));
      expect(consumed.status?.decisions).toEqual([expect.objectContaining({ user: 'ann', decision: 'approve', groups: expect.arrayContaining(['sre']), reason: `via Slack (Slack user UANN of team ${team})` })]);
      expect((consumed.metadata as ManagedMeta).managedFields?.some((f) => f.manager === 'toolgate-chat' && f.subresource === 'status')).toBe(true);
      // The original message is replaced with the outcome through response_url.
      await waitFor(() => slack.bodies.find((b) => b.replace_original === true), { description: 'the message update' });
      expect(slack.bodies.find((b) => b.replace_original === true)?.text).toBe('Approved by ann (from Slack): everything/echo');
      expect(await eventsFor(pending, 'ChatApproved')).toHaveLength(1);

      // The same click again (a double click, or a retry after a timeout): nothing more to decide.
      const again = await post(slackClick('UANN', pending, denyActionId));
      expect(again.status).toBe(409);
      expect(again.body.message).toMatch(/already (Approved|Consumed)/);
    } finally {
      await client.close();
    }
  });
});

describe('what the endpoint refuses before believing a click', () => {
  let target: ApprovalRequest;
  beforeAll(() => {
    target = { apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', metadata: { name: 'ar-none', namespace: ns, uid: randomUUID() } } as ApprovalRequest;
  });

  it('a wrong signature, a stale timestamp, a replay', async () => {
    expect(await post(slackClick('UANN', target, approveActionId, { secret: 'not-the-secret' }))).toMatchObject({ status: 401, body: { outcome: 'bad-signature' } });
    expect(await post(slackClick('UANN', target, approveActionId, { timestamp: Math.floor(Date.now() / 1000) - 301 }))).toMatchObject({ status: 401, body: { outcome: 'stale-timestamp' } });
    const once = slackClick('UANN', target, approveActionId);
    // Genuine, but names no existing request: nothing to decide (409), and it is now spent.
    expect((await post(once)).status).toBe(409);
    expect(await post(once)).toMatchObject({ status: 401, body: { outcome: 'replay' } });
  });

  it('a body changed after signing', async () => {
    const click = slackClick('UANN', target, approveActionId);
    expect(await post({ ...click, body: click.body.replace('UANN', 'UALI') })).toMatchObject({ status: 401, body: { outcome: 'bad-signature' } });
  });

  it('the endpoint\'s account can impersonate no one outside the map', async () => {
    const err = await impersonatingClient(chatConfig, { username: 'root', groups: [] }).get({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns }).catch((e: KubeError) => e);
    expect((err as KubeError).code).toBe(403);
    expect((err as KubeError).message).toMatch(/cannot impersonate resource "users"/);
    const group = await impersonatingClient(chatConfig, { username: 'ann', groups: ['system:masters'] }).get({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: ns }).catch((e: KubeError) => e);
    expect((group as KubeError).message).toMatch(/cannot impersonate resource "groups"/);
  });
});
