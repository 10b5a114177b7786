// Chat messages about ApprovalRequests as Slack-compatible incoming-webhook JSON (`text` for
// notifications and clients without Block Kit, `blocks` for the layout). Mattermost, Rocket.Chat
// and Teams' Slack-compatible endpoints read `text`. Pure: the notifier delivers them.
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import { supersededCondition, type ApprovalOutcome } from '../../../pkg/approvals/phase.ts';
import { getCondition } from '../../../pkg/kube/conditions.ts';
import { approveActionId, buttonValue, denyActionId } from '../chat/slack-interaction.ts';

export interface ChatMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** Slack's mrkdwn treats &, < and > as control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
const code = (s: string) => `\`${escapeMrkdwn(s).replace(/`/g, 'ˋ')}\``;

// Values the authorizer redacted carry a marker; keys that look like secrets are hidden even if
// a value slipped through unredacted, so a chat channel never becomes a credential store.
const redactedValue = /^\[?(REDACTED|redacted)\b|^\*{3,}$/;
const secretKey = /pass(word)?|secret|token|api[-_]?key|auth|credential|cookie|private|session/i;
const redacted = '[REDACTED]';

function preview(value: unknown, max = 80): string {
  if (typeof value === 'string' && redactedValue.test(value)) return redacted;
  let text = typeof value === 'string' ? value : JSON.stringify(redactDeep(value));
  text = text.replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function redactDeep(value: unknown): unknown {
  if (typeof value === 'string') return redactedValue.test(value) ? redacted : value;
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretKey.test(k) ? redacted : redactDeep(v)]));
  }
  return value;
}

/** Top-level arguments, one per line, secrets hidden, long values cut. */
export function argumentLines(args: Record<string, unknown> | undefined, maxKeys = 8): string[] {
  const entries = Object.entries(args ?? {});
  const lines = entries.slice(0, maxKeys).map(([k, v]) => `${k}: ${secretKey.test(k) ? redacted : preview(v)}`);
  if (entries.length > maxKeys) lines.push(`… and ${entries.length - maxKeys} more`);
  return lines;
}

function who(ar: ApprovalRequest): string {
  const r = ar.spec.requester;
  return r.operator ? `${code(r.agent)} on behalf of ${code(r.operator)}` : code(r.agent);
}

function commands(ar: ApprovalRequest): string {
  const ref = `${ar.metadata.name} -n ${ar.metadata.namespace}`;
  // show first: the message carries the redacted arguments; approvers see the full ones there.
  return `kubectl mcp show ${ref}\nkubectl mcp approve ${ref} --reason "..."\nkubectl mcp deny ${ref} --reason "..."`;
}

export function requestedMessage(ar: ApprovalRequest): ChatMessage {
  const s = ar.spec;
  const what = `${s.server}/${s.tool}`;
  const labels = s.labels?.length ? ` — labels ${s.labels.map(code).join(' ')}` : '';
  const args = argumentLines(s.arguments as Record<string, unknown>);
  const fields = [
    `*Who:* agent ${who(ar)}`,
    `*What:* ${code(what)} (${s.verb})${labels}`,
    `*Why:* rule ${code(s.rule)} of McpSecurityPolicy ${code(`${s.policyRef.namespace}/${s.policyRef.name}`)}${s.reason ? `: ${escapeMrkdwn(s.reason)}` : ''}`,
    `*Who decides:* a member of ${s.approvers.map(code).join(', ')} (${s.quorum} approval${s.quorum === 1 ? '' : 's'} needed; never the requester)`,
    `*Expires:* ${escapeMrkdwn(s.expiresAt)} — unanswered means aborted`,
  ];
  const blocks: ChatMessage['blocks'] = [
    { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${what}`.slice(0, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: fields.join('\n') } },
  ];
  if (args.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Arguments:*\n\`\`\`${escapeMrkdwn(args.join('\n'))}\`\`\`` } });
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*How:*\n\`\`\`${escapeMrkdwn(commands(ar))}\`\`\`` } });
  const buttons = decisionButtons(ar);
  if (buttons) blocks.push(buttons);
  blocks.push(
    { type: 'context', elements: [{ type: 'mrkdwn', text: `ApprovalRequest ${code(`${ar.metadata.namespace}/${ar.metadata.name}`)}` }] },
  );
  const operator = s.requester.operator ? ` for ${s.requester.operator}` : '';
  return {
    text: `Approval needed: ${s.requester.agent}${operator} wants to call ${what} (${s.verb}; rule ${s.rule}). `
      + `A member of ${s.approvers.join(', ')} decides before ${s.expiresAt}: kubectl mcp approve|deny ${ar.metadata.name} -n ${ar.metadata.namespace}`,
    blocks,
  };
}

/**
 * Approve/Deny buttons for the chat endpoint (operator/src/chat). The value names the request
 * with its uid, so a click on an old message never decides a recreated namesake; whoever clicks
 * decides as the Kubernetes identity mapped to them, and the API server still judges whether they
 * may. A request without a uid (not yet stored) gets no buttons.
 */
export function decisionButtons(ar: ApprovalRequest): Record<string, unknown> | undefined {
  const { namespace, name, uid } = ar.metadata;
  if (!namespace || !name || !uid) return undefined;
  const value = buttonValue({ namespace, name, uid });
  return {
    type: 'actions',
    block_id: 'toolgate.decide',
    elements: [
      { type: 'button', action_id: approveActionId, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value },
      {
        type: 'button', action_id: denyActionId, style: 'danger', text: { type: 'plain_text', text: 'Deny' }, value,
        confirm: { title: { type: 'plain_text', text: 'Deny this call?' }, text: { type: 'plain_text', text: 'The agent\'s call is refused.' }, confirm: { type: 'plain_text', text: 'Deny' }, deny: { type: 'plain_text', text: 'Cancel' } },
      },
    ],
  };
}

export function decidedMessage(ar: ApprovalRequest, outcome: ApprovalOutcome): ChatMessage {
  const s = ar.spec;
  const what = `${s.server}/${s.tool}`;
  let summary: string;
  switch (outcome.phase) {
    case 'Approved': summary = `approved by ${outcome.approvedBy.join(', ')}`; break;
    case 'Denied': summary = `denied by ${outcome.denials.map((d) => d.user + (d.reason ? ` (${d.reason})` : '')).join(', ')}`; break;
    case 'Expired': summary = `expired at ${s.expiresAt} without approval; the call was aborted`; break;
    case 'Consumed': summary = `released by ${ar.status?.consumedBy ?? 'the authorizer'}`; break;
    case 'Superseded': summary = getCondition(ar.status?.conditions, supersededCondition)?.message ?? 'superseded by a policy change; the call is decided afresh'; break;
    default: summary = 'pending';
  }
  const text = `${outcome.phase}: ${s.requester.agent}'s call to ${what} — ${summary}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${outcome.phase}:* agent ${who(ar)} → ${code(what)} (${s.verb}) — ${escapeMrkdwn(summary)}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `ApprovalRequest ${code(`${ar.metadata.namespace}/${ar.metadata.name}`)}, rule ${code(s.rule)}` }] },
    ],
  };
}
