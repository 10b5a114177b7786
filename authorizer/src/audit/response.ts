// What the upstream answered a call the gate let through, as the audit trail's `response` record
// (compliance row A4). The front ends that relay answers (the MCP proxy) report them; behind
// Envoy (ext_authz) the authorizer never sees an answer, so no response record is written there.
//
// The summary is the answer's text content or error message, cut here to a bound the record
// builder (record.ts responseBody) then redacts and bounds again: nothing of the answer reaches
// the trail unredacted, and a large answer is not copied in full just to be summarised.
import type { ResponseStatus } from '../../../pkg/contracts/audit.ts';
import { ErrorCodes } from '../gate/jsonrpc.ts';
import type { ResponseEvent } from './record.ts';

/** Characters of the answer kept before redaction (record.ts bounds the redacted text again). */
export const responseSummaryChars = 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The text blocks of a tools/call, resources/read or prompts/get result, joined. */
function textOf(result: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (v: unknown) => { if (typeof v === 'string' && v !== '') parts.push(v); };
  // tools/call: content[].text; resources/read: contents[].text; prompts/get: messages[].content.text.
  for (const c of Array.isArray(result.content) ? result.content : []) if (isObject(c)) add(c.text);
  for (const c of Array.isArray(result.contents) ? result.contents : []) if (isObject(c)) add(c.text);
  for (const m of Array.isArray(result.messages) ? result.messages : []) if (isObject(m) && isObject(m.content)) add(m.content.text);
  if (parts.length === 0 && isObject(result.structuredContent)) parts.push(JSON.stringify(result.structuredContent));
  return parts.join('\n');
}

const cut = (s: string) => (s.length > responseSummaryChars ? s.slice(0, responseSummaryChars) : s);

/**
 * The response event of one relayed answer: `answer` is the JSON-RPC message the client got
 * (the upstream's, or toolgate's own error when the upstream failed), `httpStatus` the
 * upstream's HTTP status when it answered with an HTTP error.
 */
export function responseEventOf(about: { decisionId: string; server: string; tool: string }, answer: unknown, httpStatus?: number): ResponseEvent {
  const base = { decisionId: about.decisionId, server: about.server, tool: about.tool, ...(httpStatus !== undefined && httpStatus >= 100 && httpStatus <= 599 ? { httpStatus } : {}) };
  const msg = isObject(answer) ? answer : {};
  if (isObject(msg.error)) {
    const code = Number.isSafeInteger(msg.error.code) ? (msg.error.code as number) : undefined;
    const limited = httpStatus === 429 || code === ErrorCodes.rateLimited;
    const status: ResponseStatus = limited ? 'rate-limited' : 'error';
    return { ...base, status, ...(code !== undefined ? { errorCode: code } : {}), summary: cut(typeof msg.error.message === 'string' ? msg.error.message : '') };
  }
  if (!isObject(msg.result)) return { ...base, status: httpStatus === 429 ? 'rate-limited' : 'error', summary: 'the answer is not a JSON-RPC result or error' };
  const status: ResponseStatus = msg.result.isError === true ? 'error' : 'success';
  return { ...base, status, summary: cut(textOf(msg.result)) };
}

/** Parses a relayed JSON body for its event; a body that is not JSON is an error answer. */
export function responseEventOfRaw(about: { decisionId: string; server: string; tool: string }, raw: string, httpStatus?: number): ResponseEvent {
  let answer: unknown;
  try {
    answer = JSON.parse(raw);
  } catch {
    return { decisionId: about.decisionId, server: about.server, tool: about.tool, status: 'error', summary: 'the upstream answered with a body that is not JSON', ...(httpStatus !== undefined ? { httpStatus } : {}) };
  }
  return responseEventOf(about, answer, httpStatus);
}
