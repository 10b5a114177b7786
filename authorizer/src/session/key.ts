// Which scope a call's session state accumulates in. The key always starts with the caller
// (token issuer and subject), so no client can add to, or read from, another caller's state by
// naming its session or conversation id.
//
//   1. The MCP session id, where the front end has one (proxy: the Mcp-Session-Id it issued to
//      this caller; ext_authz: the Mcp-Session-Id header Envoy forwards).
//   2. Otherwise (MCP 2026-07-28 is sessionless; a client without the header) the conversation id
//      the client puts in `params._meta["io.toolgate/conversation-id"]`.
//   3. Otherwise the caller alone.
//
// What a client can do to escape: a new session or conversation id starts new *session*
// counters. It cannot escape its taint: every taint is also recorded under the caller key and
// lasts the policy's taintTTL, and every decision reads both, so opening a new session does not
// launder what the caller read. Limits with `per: caller` count across sessions likewise.
import type { CallerIdentity } from '../gate/types.ts';

/** The `_meta` key a sessionless client names its conversation with. */
export const conversationMetaKey = 'io.toolgate/conversation-id';

const maxConversationId = 256;

export interface SessionKeys {
  /** The session (or conversation, or caller) scope. */
  session: string;
  /** The caller across all its sessions. */
  caller: string;
  /** What the session key is made of (McpSessionTaint.spec). */
  scope: { issuer: string; subject: string; session?: string };
}

export type ConversationId = { ok: true; id?: string } | { ok: false; error: string };

/** The conversation id of a request's params, when it names one; refused when it is not a short printable string. */
export function conversationId(params: Record<string, unknown> | undefined): ConversationId {
  const meta = params?._meta;
  if (meta === undefined || meta === null || typeof meta !== 'object' || Array.isArray(meta)) return { ok: true };
  if (!Object.hasOwn(meta, conversationMetaKey)) return { ok: true };
  const id = (meta as Record<string, unknown>)[conversationMetaKey];
  if (typeof id !== 'string' || id.length === 0 || id.length > maxConversationId || !/^[\x21-\x7e]+$/.test(id)) {
    return { ok: false, error: `params._meta["${conversationMetaKey}"] must be 1 to ${maxConversationId} printable ASCII characters without spaces` };
  }
  return { ok: true, id };
}

export function sessionKeys(caller: Pick<CallerIdentity, 'issuer' | 'subject'>, sessionId: string | undefined, conversation: string | undefined): SessionKeys {
  // JSON arrays: no separator inside an issuer or subject can make two callers collide.
  const who = [caller.issuer, caller.subject];
  const callerKey = JSON.stringify(['caller', ...who]);
  const scope = { issuer: caller.issuer, subject: caller.subject };
  if (sessionId !== undefined && sessionId !== '') return { session: JSON.stringify(['session', ...who, sessionId]), caller: callerKey, scope: { ...scope, session: `session:${sessionId}` } };
  if (conversation !== undefined) return { session: JSON.stringify(['conversation', ...who, conversation]), caller: callerKey, scope: { ...scope, session: `conversation:${conversation}` } };
  return { session: callerKey, caller: callerKey, scope };
}
