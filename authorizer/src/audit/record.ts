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
import { canonicalJson, contentHash } from '../../../pkg/json/canonical.ts';
import { argumentsDigest, redactArguments } from '../approvals/request.ts';
import type { Outcome } from '../approvals/outcome.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import type { RefusalRecord } from '../gate/outcome.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';

export const auditFormatVersion = 1;

export interface AuditOpen {
  type: 'open';
  version: number;
  seq: 0;
  time: string;
  /** "genesis:<128-bit random hex>": the first decision record's `prev`. */
  genesis: string;
  hash: string;
}

/** A decision record before it takes its place in the chain. */
export interface AuditDecisionBody {
  type: 'decision';
  time: string;
  decisionId: string;
  frontEnd: string;
  /** "<namespace>/<name>" of the deciding McpSecurityPolicy; '' when none decided (no bundle, unknown server). */
  policy: string;
  revision: string;
  server: string;
  tool: string;
  verb: string;
  labels: string[];
  action: string;
  dryRunAction?: string;
  rule: string;
  reasons: string[];
  caller: { agent?: string; operator?: string; subject: string; issuer: string; roles: string[] };
  sessionId?: string;
  /** "sha256:<hex>" of the canonical JSON of the UNREDACTED arguments (matches ApprovalRequest.spec.argumentsDigest). */
  argumentsDigest: string;
  /** Redacted with the approvals redactor. */
  arguments: unknown;
}

/**
 * What became of a held call: released (with who approved and which replica consumed it),
 * denied, expired, already released elsewhere, or failed. The decision record with the same
 * decisionId says why it was held.
 */
export interface AuditApprovalBody {
  type: 'approval';
  time: string;
  decisionId: string;
  mode: 'hold' | 'retry';
  outcome: string;
  policy: string;
  server: string;
  tool: string;
  argumentsDigest: string;
  /** "<namespace>/<name>" of the ApprovalRequest; '' when none could be read or created. */
  request: string;
  approvedBy: string[];
  deniedBy: string[];
  consumedBy?: string;
  /** For a failed outcome: why (no secrets: messages name objects, never values). */
  message?: string;
}

/**
 * A request or message refused, wherever in the gate it was refused: transport, authentication,
 * parse, method, decision or approval. What the client was answered (HTTP status, JSON-RPC code
 * and message) and, as far as it was known, who asked for what. Never a token, a credential or
 * arguments; client-chosen strings are cut to a bounded length.
 */
export interface AuditRefusalBody {
  type: 'refusal';
  time: string;
  frontEnd: string;
  stage: string;
  /** HTTP method of the request, when there was one. */
  httpMethod?: string;
  /** JSON-RPC method, once the message was read. */
  method?: string;
  httpStatus: number;
  code: number;
  reason: string;
  caller?: AuditDecisionBody['caller'];
  server?: string;
  tool?: string;
  sessionId?: string;
  /** JSON-RPC id of the refused request. */
  requestId?: string | number;
  /** The decision record of the same decisionId says why the policy refused. */
  decisionId?: string;
}

export type AuditBody = AuditDecisionBody | AuditApprovalBody | AuditRefusalBody;
type Chained<T> = T & { seq: number; prev: string; hash: string };
export type AuditDecision = Chained<AuditDecisionBody>;
export type AuditApproval = Chained<AuditApprovalBody>;
export type AuditRefusal = Chained<AuditRefusalBody>;

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

export function decisionBody(r: DecisionRecord, time = new Date()): AuditDecisionBody {
  const { verdict, call } = r;
  const d = verdict.decision;
  const c = call.caller;
  return {
    type: 'decision',
    time: time.toISOString(),
    decisionId: verdict.decisionId,
    frontEnd: call.frontEnd,
    policy: d.policy?.namespace && d.policy.name ? `${d.policy.namespace}/${d.policy.name}` : '',
    revision: verdict.revision,
    server: call.server,
    tool: call.tool,
    verb: d.verb,
    labels: [...d.labels],
    action: d.action,
    ...(d.dryRunAction ? { dryRunAction: d.dryRunAction } : {}),
    rule: d.rule,
    reasons: [...d.reasons],
    caller: {
      ...(c.agent !== undefined ? { agent: c.agent } : {}),
      ...(c.operator !== undefined ? { operator: c.operator } : {}),
      subject: c.subject,
      issuer: c.issuer,
      roles: [...c.roles],
    },
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
    ...(e.outcome.kind === 'failed' ? { message: e.outcome.message } : {}),
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
    ...(c ? {
      caller: {
        ...(c.agent !== undefined ? { agent: c.agent } : {}),
        ...(c.operator !== undefined ? { operator: c.operator } : {}),
        subject: c.subject,
        issuer: c.issuer,
        roles: [...c.roles],
      },
    } : {}),
    ...(r.server !== undefined ? { server: bounded(r.server) } : {}),
    ...(r.tool !== undefined ? { tool: bounded(r.tool) } : {}),
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

/**
 * Checks one line on its own (shape and hash), not its place in the chain. Returns what is
 * wrong, or the parsed line.
 */
export function checkLine(text: string): { ok: true; line: AuditLine } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON (a truncated or edited line)' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o.hash !== 'string' || !hashPattern.test(o.hash)) return { ok: false, reason: 'field "hash" is missing or not 64 hex characters' };
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0) return { ok: false, reason: 'field "seq" is missing or not a non-negative integer' };
  if (o.type === 'open') {
    if (typeof o.genesis !== 'string' || !genesisPattern.test(o.genesis)) return { ok: false, reason: 'open line: field "genesis" is missing or not "genesis:<32 hex>"' };
    if (o.seq !== 0) return { ok: false, reason: `open line: field "seq" is ${String(o.seq)}, expected 0` };
  } else if (o.type === 'decision' || o.type === 'approval' || o.type === 'refusal') {
    if (typeof o.prev !== 'string') return { ok: false, reason: 'field "prev" is missing' };
  } else {
    return { ok: false, reason: `field "type" is ${JSON.stringify(o.type)}, expected "open", "decision", "approval" or "refusal"` };
  }
  let expected: string;
  try {
    expected = hashOf(o);
  } catch (err) {
    return { ok: false, reason: `cannot be hashed: ${(err as Error).message}` };
  }
  if (expected !== o.hash) return { ok: false, reason: `hash mismatch: the line's contents were changed after it was written (recomputed ${expected.slice(0, 12)}…, recorded ${o.hash.slice(0, 12)}…)` };
  return { ok: true, line: o as unknown as AuditLine };
}
