// The HTTP endpoint Slack calls when someone clicks Approve or Deny on an approval message.
// Order matters: the raw body's signature, timestamp and freshness are checked before anything
// in it is believed; then the click is parsed, the Slack user mapped to a Kubernetes identity by
// the explicit table, and the decision written AS that identity (impersonation), so the API
// server's RBAC and admission policy — not this endpoint — decide whether the person may decide.
// Every refusal is logged and counted; refusals of genuine (signed) clicks are also recorded as
// an Event on the ApprovalRequest and told to the clicker through Slack's response_url. A forged
// or replayed request names nothing we can trust, so it gets no Event (it could aim one anywhere).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { EventRecorder } from '../../../pkg/kube/events.ts';
import { errorMessage } from '../../../pkg/observability/log.ts';
import { writeDecision, type WriteOutcome } from './decision-writer.ts';
import { chatUserKey, type KubernetesIdentity } from './identity-map.ts';
import { impersonatingClient } from './impersonation.ts';
import { InteractionError, parseInteraction, type ChatClick } from './slack-interaction.ts';
import { ReplayCache, slackWindowSeconds, verifySlackRequest } from './slack-signature.ts';

export const slackInteractionsPath = '/slack/interactions';
const maxBodyBytes = 64 * 1024;

export interface ChatEndpointOptions {
  /** Current signing secrets (two while rotating), read from a Secret. */
  signingSecrets: () => Promise<string[]>;
  /** The chat user → Kubernetes identity table (identity-map.ts), read from a ConfigMap. */
  identities: () => Promise<ReadonlyMap<string, KubernetesIdentity>>;
  /** The endpoint's own credentials, which may impersonate exactly the mapped identities. */
  kubeConfig: KubeConfig;
  events: EventRecorder;
  log: Logger;
  registry?: Registry;
  /** response_url must match (default: Slack's hooks host), so a payload cannot make us post elsewhere. */
  responseUrlPattern?: RegExp;
  now?: () => number;
  port?: number;
  host?: string;
}

export interface ChatEndpoint {
  url: string;
  close(): Promise<void>;
}

type Outcome = 'decided' | 'stale' | 'refused-by-api' | 'unmapped' | 'bad-signature' | 'replay' | 'stale-timestamp' | 'malformed' | 'error';

export async function startChatEndpoint(o: ChatEndpointOptions): Promise<ChatEndpoint> {
  const now = o.now ?? Date.now;
  const replays = new ReplayCache(slackWindowSeconds * 1000);
  const responseUrlPattern = o.responseUrlPattern ?? /^https:\/\/hooks\.slack\.com\//;
  const counter = o.registry
    ? new Counter({ name: 'toolgate_chat_interactions_total', help: 'Chat button clicks by outcome (decided, refused-by-api, unmapped, bad-signature, replay, ...).', labelNames: ['outcome'] as const, registers: [o.registry] })
    : undefined;

  const answer = (res: ServerResponse, status: number, outcome: Outcome, message: string, fields: Record<string, unknown> = {}) => {
    counter?.inc({ outcome });
    const level = status < 300 ? 'info' : 'warn';
    o.log[level]({ outcome, status, ...fields }, `chat interaction: ${message}`);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300, outcome, message }));
  };

  const reply = async (click: ChatClick, body: Record<string, unknown>): Promise<void> => {
    if (!click.responseUrl) return;
    if (!responseUrlPattern.test(click.responseUrl)) {
      o.log.warn({ responseUrl: click.responseUrl.slice(0, 80) }, 'chat interaction: response_url is not Slack\'s; message not updated');
      return;
    }
    try {
      const r = await fetch(click.responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      await r.arrayBuffer().catch(() => undefined);
      if (!r.ok) o.log.warn({ status: r.status }, 'chat interaction: response_url refused the message update');
    } catch (e) {
      o.log.warn({ err: errorMessage(e) }, 'chat interaction: cannot update the message through response_url');
    }
  };

  const event = (click: ChatClick, type: 'Normal' | 'Warning', reason: string, note: string) =>
    o.events.record({ apiVersion: 'toolgate.io/v1alpha1', kind: 'ApprovalRequest', namespace: click.target.namespace, name: click.target.name, uid: click.target.uid }, type, reason, 'Decide', note.slice(0, 1024));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== slackInteractionsPath) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"ok":false,"message":"not found"}');
      return;
    }
    const raw = await readBody(req);
    if (raw === undefined) return answer(res, 413, 'malformed', `body larger than ${maxBodyBytes} bytes`);
    const verdict = verifySlackRequest({
      secrets: await o.signingSecrets(),
      timestamp: header(req, 'x-slack-request-timestamp'), signature: header(req, 'x-slack-signature'),
      rawBody: raw, nowMs: now(),
    }, replays);
    if (!verdict.ok) {
      const outcome: Outcome = verdict.reason === 'replay' || verdict.reason === 'replay-cache-full' ? 'replay' : verdict.reason === 'stale' ? 'stale-timestamp' : 'bad-signature';
      return answer(res, 401, outcome, verdict.message, { remote: req.socket.remoteAddress });
    }
    let click: ChatClick;
    try {
      click = parseInteraction(raw, header(req, 'content-type'));
    } catch (e) {
      if (e instanceof InteractionError) return answer(res, 400, 'malformed', e.message);
      throw e;
    }
    const who = `Slack user ${click.user.user} of team ${click.user.team}`;
    const at = { slackUser: click.user.user, slackTeam: click.user.team, approvalRequest: `${click.target.namespace}/${click.target.name}`, decision: click.decision };
    const identity = (await o.identities()).get(chatUserKey(click.user));
    if (!identity) {
      const message = `${who} is not mapped to a Kubernetes identity; nothing was written (ask an admin to add ${chatUserKey(click.user)} to the chat identity map)`;
      await Promise.all([event(click, 'Warning', 'ChatUserUnmapped', message), reply(click, { response_type: 'ephemeral', replace_original: false, text: `Refused: ${message}` })]);
      return answer(res, 403, 'unmapped', message, at);
    }
    const outcome: WriteOutcome = await writeDecision(impersonatingClient(o.kubeConfig, identity), click.target, click.decision, `via Slack (${who})`);
    const as = { ...at, kubernetesUser: identity.username };
    if (outcome.kind === 'refused') {
      const message = `the Kubernetes API server refused ${identity.username}'s ${click.decision} (${who}): ${outcome.message}`;
      await Promise.all([event(click, 'Warning', 'ChatDecisionRefused', message), reply(click, { response_type: 'ephemeral', replace_original: false, text: `Refused: ${outcome.message}` })]);
      return answer(res, 403, 'refused-by-api', message, as);
    }
    if (outcome.kind === 'stale') {
      await reply(click, { response_type: 'ephemeral', replace_original: false, text: `Nothing to decide: ${outcome.message}` });
      return answer(res, 409, 'stale', outcome.message, as);
    }
    const verb = click.decision === 'approve' ? 'approved' : 'denied';
    const message = `${outcome.username} ${verb} ${click.target.namespace}/${click.target.name} from Slack (${who})`;
    await Promise.all([
      event(click, 'Normal', click.decision === 'approve' ? 'ChatApproved' : 'ChatDenied', message),
      reply(click, {
        replace_original: true,
        text: `${click.decision === 'approve' ? 'Approved' : 'Denied'} by ${outcome.username} (from Slack): ${outcome.request.spec.server}/${outcome.request.spec.tool}`,
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${click.decision === 'approve' ? 'Approved' : 'Denied'}* by \`${outcome.username}\` from Slack — \`${outcome.request.spec.server}/${outcome.request.spec.tool}\`, ApprovalRequest \`${click.target.namespace}/${click.target.name}\`` } }],
      }),
    ]);
    return answer(res, 200, 'decided', message, as);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      o.log.error({ err: errorMessage(e) }, 'chat interaction failed');
      counter?.inc({ outcome: 'error' });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"ok":false,"message":"internal error; nothing was decided"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}${slackInteractionsPath}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  // Node joins a repeated header with ', ', which then matches no signature or timestamp.
  return typeof v === 'string' ? v : undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBodyBytes) {
      req.resume();
      return undefined;
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
