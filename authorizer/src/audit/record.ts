// The audit records (a tools/call decision, the outcome of a held call, a refusal), and the hash
// chain that links them.
// Each line of the trail is the canonical JSON (sorted keys) of one record; `hash` is the
// sha256 of the canonical JSON of that record without `hash`, and `prev` is the previous
// record's hash, so editing, deleting or reordering any line breaks the chain where it
// happened. The first line opens the trail with a random genesis value that the first record
// names as its `prev`: a trail cut at its head no longer starts with its open line.
//
// Only what is listed here reaches the file: never the caller's token, its id, its scopes or
// any header; arguments only through the approvals redactor (the same one approvers see).
import { randomBytes } from 'node:crypto';
import { auditLineContracts, type AuditApproval, type AuditApprovalBody, type AuditDecision, type AuditDecisionBody, type AuditOpen, type AuditRefusal, type AuditRefusalBody } from '../../../pkg/contracts/audit.ts';
import { canonicalJson, contentHash } from '../../../pkg/json/canonical.ts';
import { isJsonObject, JsonParseError, parseStrictJson, toPlainJson, type JsonValue } from '../../../pkg/json/strict.ts';
import { argumentsDigest, redactArguments } from '../approvals/request.ts';
import type { Outcome } from '../approvals/outcome.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import type { RefusalRecord } from '../gate/outcome.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';

export const auditFormatVersion = 1;

// The line shapes are schemas (pkg/contracts/audit.ts): the writer's types and the verifier's check.
export type { AuditApproval, AuditApprovalBody, AuditDecision, AuditDecisionBody, AuditOpen, AuditRefusal, AuditRefusalBody };

export type AuditBody = AuditDecisionBody | AuditApprovalBody | AuditRefusalBody;
type Chained<T> = T & { seq: number; prev: string; hash: string };

export type AuditLine = AuditOpen | AuditDecision | AuditApproval | AuditRefusal;

export const genesisPattern = /^genesis:[0-9a-f]{32}$/;
export const hashPattern = /^[0-9a-f]{64}$/;

/** sha256 hex over the canonical JSON of the record without its `hash`. */
export function hashOf(line: Record<string, unknown>): string {
  const { hash: _ignored, ...rest } = line;
  return contentHash(rest);
}

export function openLine(time = new Date()): AuditOpen {
  const body = { type: 'open' as const, version: auditFormatVersion, seq: 0 as const, time: time.toISOString(), genesis: `genesis:${randomBytes(16).toString('hex')}` };
  return { ...body, hash: hashOf(body) };
}

/** Who called, as a record says it: the identities and roles, never the token, its id or scopes. */
function callerOf(c: ToolCall['caller']): AuditDecisionBody['caller'] {
  return {
    ...(c.agent !== undefined ? { agent: c.agent } : {}),
    ...(c.operator !== undefined ? { operator: c.operator } : {}),
    subject: c.subject,
    issuer: c.issuer,
    roles: [...c.roles],
  };
}

export function decisionBody(r: DecisionRecord, time = new Date()): AuditDecisionBody {
  const { verdict, call } = r;
  const d = verdict.decision;
  return {
    type: 'decision',
    time: time.toISOString(),
    decisionId: verdict.decisionId,
    frontEnd: call.frontEnd,
    policy: d.policy?.namespace && d.policy.name ? `${d.policy.namespace}/${d.policy.name}` : '',
    revision: verdict.revision,
    server: call.server,
    tool: call.tool,
    ...(call.operation ? { method: call.operation.method, kind: call.operation.kind, ...(call.operation.target !== undefined ? { target: bounded(call.operation.target) } : {}) } : {}),
    verb: d.verb,
    labels: [...d.labels],
    action: d.action,
    ...(d.dryRunAction ? { dryRunAction: d.dryRunAction } : {}),
    rule: d.rule,
    reasons: [...d.reasons],
    caller: callerOf(call.caller),
    ...(call.sessionId ? { sessionId: call.sessionId } : {}),
    argumentsDigest: argumentsDigest(call.arguments),
    arguments: redactArguments(call.arguments ?? {}),
  };
}

export interface ApprovalEvent {
  mode: 'hold' | 'retry';
  outcome: Outcome;
  call: ToolCall;
  verdict: Verdict;
}

export function approvalBody(e: ApprovalEvent, time = new Date()): AuditApprovalBody {
  const r = e.outcome.request;
  const decisions = r?.status?.decisions ?? [];
  const p = e.verdict.decision.policy;
  return {
    type: 'approval',
    time: time.toISOString(),
    decisionId: e.verdict.decisionId,
    mode: e.mode,
    outcome: e.outcome.kind,
    policy: p?.namespace && p.name ? `${p.namespace}/${p.name}` : '',
    server: e.call.server,
    tool: e.call.tool,
    argumentsDigest: argumentsDigest(e.call.arguments),
    request: r ? `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}` : '',
    approvedBy: decisions.filter((d) => d.decision === 'approve').map((d) => d.user),
    deniedBy: decisions.filter((d) => d.decision === 'deny').map((d) => d.user),
    ...(r?.status?.consumedBy ? { consumedBy: r.status.consumedBy } : {}),
    // Why the call was not released, where the outcome says (an untrusted or superseded request included).
    ...(e.outcome.kind === 'failed' || e.outcome.kind === 'untrusted' || e.outcome.kind === 'superseded' ? { message: e.outcome.message } : {}),
  };
}

/** Client-chosen strings (methods, tool names, ids, reasons quoting them) are kept to this many characters. */
export const maxClientString = 512;
const bounded = (v: string) => (v.length > maxClientString ? `${v.slice(0, maxClientString)}…[${v.length - maxClientString} more]` : v);

export function refusalBody(r: RefusalRecord, time = new Date()): AuditRefusalBody {
  const c = r.caller;
  return {
    type: 'refusal',
    time: time.toISOString(),
    frontEnd: r.frontEnd,
    stage: r.stage,
    ...(r.httpMethod ? { httpMethod: bounded(r.httpMethod) } : {}),
    ...(r.method !== undefined ? { method: bounded(r.method) } : {}),
    httpStatus: r.httpStatus,
    code: r.code,
    reason: bounded(r.reason),
    ...(c ? { caller: callerOf(c) } : {}),
    ...(r.server !== undefined ? { server: bounded(r.server) } : {}),
    ...(r.tool !== undefined ? { tool: bounded(r.tool) } : {}),
    ...(r.target !== undefined ? { target: bounded(r.target) } : {}),
    ...(r.sessionId ? { sessionId: r.sessionId } : {}),
    ...(r.requestId !== undefined && r.requestId !== null ? { requestId: typeof r.requestId === 'string' ? bounded(r.requestId) : r.requestId } : {}),
    ...(r.decisionId ? { decisionId: r.decisionId } : {}),
  };
}

/** Places a body in the chain after the record with `prev` as hash and `seq - 1` as seq. */
export function chain<T extends AuditBody>(body: T, seq: number, prev: string): Chained<T> {
  const line = { ...body, seq, prev };
  return { ...line, hash: hashOf(line as unknown as Record<string, unknown>) } as Chained<T>;
}

/** The bytes of one line of the trail, newline included. */
export function serialize(line: AuditLine): string {
  return `${canonicalJson(line)}\n`;
}

/** Where the chain continues after a line: its seq and the value the next record's prev must hold. */
export function headAfter(line: AuditLine): { seq: number; prev: string } {
  return line.type === 'open' ? { seq: 0, prev: line.genesis } : { seq: line.seq, prev: line.hash };
}

/** Why a line is not JSON the trail could have written. */
function unreadable(err: unknown): string {
  if (!(err instanceof JsonParseError)) return `cannot be read: ${(err as Error).message}`;
  if (err.kind === 'invalid-json') return `not valid JSON (a truncated or edited line): ${err.message}`;
  return `not a line the trail writes (it was edited): ${err.message}`;
}

/**
 * Checks one line on its own, not its place in the chain: that it is JSON the trail could have
 * written (no repeated key, no lone surrogate: the strict parser, keeping every number exactly
 * as written, at any depth), that it has the shape of its kind (pkg/contracts/audit.ts), that
 * its hash matches, and that it is byte for byte the canonical form the writer produces (so
 * whitespace or key order edited in does not pass). Returns what is wrong, or the parsed line
 * (numbers no double holds exactly come back as strings; the chain fields are all exact).
 */
export function checkLine(text: string): { ok: true; line: AuditLine } | { ok: false; reason: string } {
  let parsed: JsonValue;
  try {
    parsed = parseStrictJson(text, { maxDepth: Number.POSITIVE_INFINITY, maxBytes: Number.POSITIVE_INFINITY });
  } catch (err) {
    return { ok: false, reason: unreadable(err) };
  }
  if (!isJsonObject(parsed)) return { ok: false, reason: 'not a JSON object' };
  const line = toPlainJson(parsed, { inexactNumbers: 'string' }) as Record<string, unknown>;
  const kinds = Object.keys(auditLineContracts);
  const contract = typeof line.type === 'string' && Object.hasOwn(auditLineContracts, line.type) ? auditLineContracts[line.type] : undefined;
  if (!contract) return { ok: false, reason: `field "type" is ${JSON.stringify(line.type) ?? 'missing'}, expected one of ${kinds.map((k) => JSON.stringify(k)).join(', ')}` };
  const problem = contract.problem(line);
  if (problem) return { ok: false, reason: problem };
  let expected: string;
  try {
    expected = hashOf(parsed);
  } catch (err) {
    return { ok: false, reason: `cannot be hashed: ${(err as Error).message}` };
  }
  const recorded = line.hash as string;
  if (expected !== recorded) return { ok: false, reason: `hash mismatch: the line's contents were changed after it was written (recomputed ${expected.slice(0, 12)}…, recorded ${recorded.slice(0, 12)}…)` };
  if (canonicalJson(parsed) !== text) return { ok: false, reason: 'not in the canonical form the trail writes: whitespace or key order was changed after it was written' };
  return { ok: true, line: line as unknown as AuditLine };
}
