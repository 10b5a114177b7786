// Slack's interactivity callback for a button click (a `block_actions` payload,
// https://api.slack.com/reference/interaction-payloads/block-actions): the body is
// application/x-www-form-urlencoded with one field, `payload`, holding JSON. Only what a decision
// needs is read, strictly: exactly one `payload` field (a second one could be read differently by
// another parser), JSON without duplicate keys, exactly one action of ours.
import { isJsonObject, parseStrictJson } from '../../../pkg/json/strict.ts';
import type { ChatUser } from './identity-map.ts';

export const approveActionId = 'toolgate.approve';
export const denyActionId = 'toolgate.deny';

/** What a button's `value` names: the ApprovalRequest, uid included, so a recreated namesake is not decided by an old button. */
export interface ApprovalTarget {
  namespace: string;
  name: string;
  uid: string;
}

export interface ChatClick {
  user: ChatUser;
  decision: 'approve' | 'deny';
  target: ApprovalTarget;
  responseUrl: string | undefined;
}

export class InteractionError extends Error {
  override name = 'InteractionError';
}

export function buttonValue(t: ApprovalTarget): string {
  return JSON.stringify({ ns: t.namespace, name: t.name, uid: t.uid });
}

const str = (v: unknown): v is string => typeof v === 'string' && v !== '';
const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseInteraction(rawBody: Buffer, contentType: string | undefined): ChatClick {
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) throw new InteractionError('expected Content-Type application/x-www-form-urlencoded');
  const form = new URLSearchParams(rawBody.toString('utf8'));
  const keys = [...form.keys()];
  if (keys.length !== 1 || keys[0] !== 'payload') throw new InteractionError(`expected exactly one form field, payload; got ${keys.length ? keys.join(', ') : 'none'}`);
  let p: unknown;
  try {
    p = parseStrictJson(form.get('payload')!, { maxBytes: 64 * 1024 });
  } catch (e) {
    throw new InteractionError(`payload is not valid JSON: ${(e as Error).message}`);
  }
  if (!isJsonObject(p)) throw new InteractionError('payload is not a JSON object');
  if (p.type !== 'block_actions') throw new InteractionError(`payload type ${JSON.stringify(p.type)} is not block_actions`);
  const user = isJsonObject(p.user) ? p.user : undefined;
  const team = isJsonObject(p.team) ? p.team : undefined;
  // The workspace the click came from; user.team_id is the user's home team (they differ on shared channels).
  const teamId = team?.id ?? user?.team_id;
  if (!user || !str(user.id) || !str(teamId)) throw new InteractionError('payload names no user.id and team.id');
  const actions = Array.isArray(p.actions) ? p.actions : [];
  if (actions.length !== 1 || !isJsonObject(actions[0])) throw new InteractionError(`expected exactly one action, got ${actions.length}`);
  const action = actions[0];
  const decision = action.action_id === approveActionId ? 'approve' : action.action_id === denyActionId ? 'deny' : undefined;
  if (!decision) throw new InteractionError(`action_id ${JSON.stringify(action.action_id)} is not ${approveActionId} or ${denyActionId}`);
  let value: unknown;
  try {
    value = str(action.value) ? parseStrictJson(action.value) : undefined;
  } catch {
    value = undefined;
  }
  if (!isJsonObject(value) || !str(value.ns) || !str(value.name) || !str(value.uid) || !dns.test(value.ns) || !dns.test(value.name) || Object.keys(value).length !== 3) {
    throw new InteractionError('the action value does not name an ApprovalRequest ({"ns","name","uid"})');
  }
  const responseUrl = str(p.response_url) ? p.response_url : undefined;
  return { user: { platform: 'slack', team: teamId, user: user.id }, decision, target: { namespace: value.ns, name: value.name, uid: value.uid }, responseUrl };
}
