// The audit records and the hash chain that links them.
//
// Each line of the trail is the canonical JSON (sorted keys) of one record; `hash` is the sha256
// of the canonical JSON of that record without `hash` and without `personal`, and `prev` is the
// previous record's hash, so editing, deleting or reordering any line breaks the chain where it
// happened. The first line opens the trail with a random genesis value that the first record
// names as its `prev`: a trail cut at its head no longer starts with its open line.
//
// Version 2 (written now; version 1 trails are still verified) records the governance guide's
// fields (docs/compliance.md, "The audit record"): UTC time, agent (instance, roles), operator, server/tool/method,
// redacted arguments and their keyed digest, the scopes the tool required and the token carried,
// the approval status, approvers, the decision (rule, classification, enforcement, bundle
// revision), session and stated purpose. Identities are commitments (pseudonym.ts): the chain
// covers "commit:<hash>", the line's `personal` map holds the value, so erasure keeps the chain.
//
// Only what is listed here reaches the file: never the caller's token, its id or any header;
// arguments and free text only through pkg/redact.
import { randomBytes } from 'node:crypto';
import {
  auditLineContracts, type ApprovalStatus, type AuditApprovalBodyV2, type AuditCheckpoint, type AuditCheckpointBody, type AuditDecisionBodyV2, type AuditErasure, type AuditErasureBody, type AuditExpiry, type AuditExpiryBody,
  type AuditOpenV2, type AuditOverflow, type AuditOverflowBody, type AuditRefusalBodyV2, type AuditResponseBodyV2, type Openings, type ResponseStatus,
} from '../../../pkg/contracts/audit.ts';
import type { AuditApproval, AuditDecision, AuditOpen, AuditRefusal } from '../../../pkg/contracts/audit.ts';
import { canonicalJson, contentHash } from '../../../pkg/json/canonical.ts';
import { isJsonObject, JsonParseError, parseStrictJson, toPlainJson, type JsonValue } from '../../../pkg/json/strict.ts';
import { argumentsHmac } from '../../../pkg/redact/digest.ts';
import { createRedactor, type Redacted, type RedactionOptions } from '../../../pkg/redact/redact.ts';
import type { Outcome } from '../approvals/outcome.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import type { RefusalRecord } from '../gate/outcome.ts';
import type { CallerIdentity, ToolCall, Verdict } from '../gate/types.ts';
import { Committer } from './pseudonym.ts';

export const auditFormatVersion = 2;

export type { AuditApproval, AuditDecision, AuditOpen, AuditRefusal };
export type { AuditCheckpointBody, AuditErasureBody, AuditExpiryBody };
export type AuditBody = AuditDecisionBodyV2 | AuditApprovalBodyV2 | AuditRefusalBodyV2 | AuditResponseBodyV2 | AuditCheckpointBody | AuditErasureBody | AuditOverflowBody | AuditExpiryBody;
type Chained<T> = T & { seq: number; prev: string; hash: string; personal?: Openings };

/** A line of either version, as the verifier reads it (the v2 shapes are checked by their contracts). */
export type AuditLine =
  | AuditOpen | AuditOpenV2 | AuditDecision | AuditApproval | AuditRefusal
  | Chained<AuditDecisionBodyV2> | Chained<AuditApprovalBodyV2> | Chained<AuditRefusalBodyV2> | Chained<AuditResponseBodyV2> | AuditCheckpoint | AuditErasure | AuditOverflow | AuditExpiry;

/** A record body with the openings of its commitments, before it has a place in the chain. */
export interface Recordable<T extends AuditBody = AuditBody> {
  body: T;
  personal?: Openings;
}

export const genesisPattern = /^genesis:[0-9a-f]{32}$/;
export const hashPattern = /^[0-9a-f]{64}$/;

/** The stated purpose: params._meta["toolgate.io/purpose"] of the request, copied to ToolCall.purpose by the front end. */
export const purposeMetaKey = 'toolgate.io/purpose';

/** What the record builders need beside the event: the redactor, the digest key, the instance. */
export interface RecordContext {
  instance: string;
  redact: (value: unknown) => Redacted;
  /** The redactor for a call's arguments: redact, plus the fields the policy's profiles mark personal for its tool. */
  redactArguments: (call: ToolCall) => (value: unknown) => Redacted;
  digestKey: Uint8Array;
  /** The scopes the tool needs (the policy's classification), when the wiring can say. */
  requiredScopes?: (call: ToolCall) => string[] | undefined;
}

export interface RecordContextOptions {
  instance: string;
  digestKey?: Uint8Array;
  redaction?: RedactionOptions;
  requiredScopes?: (call: ToolCall) => string[] | undefined;
  /** Argument fields the governing policy marks personal for the call's tool (profiles' and toolOverrides' personalFields). */
  personalFields?: (call: ToolCall) => readonly string[] | undefined;
}

export function recordContext(o: RecordContextOptions): RecordContext {
  const redact = createRedactor(o.redaction);
  // One redactor per distinct field list (a policy has few); the regexes compile once each.
  const byFields = new Map<string, (value: unknown) => Redacted>();
  const redactArguments = (call: ToolCall) => {
    const marked = o.personalFields?.(call);
    if (!marked?.length) return redact;
    const fields = [...new Set([...(o.redaction?.personalFields ?? []), ...marked])].sort();
    const key = fields.join('\n');
    let r = byFields.get(key);
    if (!r) {
      if (byFields.size >= 1024) byFields.clear();
      r = createRedactor({ ...o.redaction, personalFields: fields });
      byFields.set(key, r);
    }
    return r;
  };
  return {
    instance: o.instance,
    redact,
    redactArguments,
    // Without a configured key, digests correlate within this process only (docs/compliance.md).
    digestKey: o.digestKey ?? randomBytes(32),
    ...(o.requiredScopes ? { requiredScopes: o.requiredScopes } : {}),
  };
}

/** sha256 hex over the canonical JSON of the record without its `hash` and its openings. */
export function hashOf(line: Record<string, unknown>): string {
  const { hash: _hash, personal: _personal, ...rest } = line;
  return contentHash(rest);
}

export function openLine(instance: string, time = new Date()): AuditOpenV2 {
  const body = { type: 'open' as const, version: auditFormatVersion as 2, seq: 0 as const, time: time.toISOString(), genesis: `genesis:${randomBytes(16).toString('hex')}`, instance };
  return { ...body, hash: hashOf(body) };
}

/** Client-chosen strings (methods, tool names, ids, reasons quoting them) are kept to this many characters. */
export const maxClientString = 512;
const bounded = (v: string) => (v.length > maxClientString ? `${v.slice(0, maxClientString)}…[${v.length - maxClientString} more]` : v);

/** Free text that may quote the caller's input, redacted and bounded. */
function text(ctx: RecordContext, v: string, found?: Record<string, number>): string {
  const r = ctx.redact(v);
  if (found) for (const [k, n] of Object.entries(r.found)) found[k] = (found[k] ?? 0) + n;
  return bounded(r.value as string);
}

function agentOf(c: CallerIdentity, commit: Committer) {
  return {
    agent: { ...(c.agent !== undefined ? { instance: commit.commit(c.agent) } : {}), roles: [...c.roles] },
    ...(c.operator !== undefined ? { operator: commit.commit(c.operator) } : {}),
  };
}

const withOpenings = <T extends AuditBody>(body: T, commit: Committer): Recordable<T> => (commit.empty ? { body } : { body, personal: commit.openings });

/** The decision's approval status: the gate applied (pending) or not (bypassed). */
const decisionApproval = (v: Verdict): ApprovalStatus => (v.decision.action === 'require_approval' ? 'pending' : 'bypassed');

export function decisionBody(r: DecisionRecord, ctx: RecordContext, time = new Date()): Recordable<AuditDecisionBodyV2> {
  const { verdict, call } = r;
  const d = verdict.decision;
  const commit = new Committer();
  const args = ctx.redactArguments(call)(call.arguments ?? {});
  const redactions = { ...args.found };
  const required = ctx.requiredScopes?.(call);
  const { purpose } = call;
  const body: AuditDecisionBodyV2 = {
    type: 'decision',
    version: 2,
    time: time.toISOString(),
    decisionId: verdict.decisionId,
    frontEnd: call.frontEnd,
    enforcement: d.enforcement,
    policy: d.policy?.namespace && d.policy.name ? `${d.policy.namespace}/${d.policy.name}` : '',
    revision: verdict.revision,
    server: call.server,
    tool: call.tool,
    method: call.operation ? bounded(call.operation.method) : 'tools/call',
    ...(call.operation ? { kind: call.operation.kind, ...(call.operation.target !== undefined ? { target: text(ctx, call.operation.target, redactions) } : {}) } : {}),
    classification: { verb: d.verb, labels: [...d.labels], annotations: { ...d.annotations }, sources: [...d.sources] },
    action: d.action,
    ...(d.dryRunAction ? { dryRunAction: d.dryRunAction } : {}),
    rule: d.rule,
    reasons: d.reasons.map((x) => text(ctx, x, redactions)),
    approval: decisionApproval(verdict),
    ...agentOf(call.caller, commit),
    caller: { subject: commit.commit(call.caller.subject), issuer: call.caller.issuer },
    ...(required ? { scopes: { required: [...required], used: required.filter((s) => call.caller.scopes.includes(s)) } } : {}),
    ...(call.sessionId ? { sessionId: call.sessionId } : {}),
    ...(typeof purpose === 'string' && purpose !== '' ? { purpose: text(ctx, purpose, redactions) } : {}),
    argumentsDigest: argumentsHmac(ctx.digestKey, call.arguments),
    arguments: args.value,
    redactions,
  };
  return withOpenings(body, commit);
}

export interface ApprovalEvent {
  mode: 'hold' | 'retry';
  outcome: Outcome;
  call: ToolCall;
  verdict: Verdict;
}

const approvalStatusOf: Record<Outcome['kind'], ApprovalStatus> = {
  released: 'approved', alreadyReleased: 'approved', pending: 'pending', denied: 'rejected', expired: 'timed-out', failed: 'failed', superseded: 'failed', untrusted: 'failed',
};

export function approvalBody(e: ApprovalEvent, ctx: RecordContext, time = new Date()): Recordable<AuditApprovalBodyV2> {
  const r = e.outcome.request;
  const decisions = r?.status?.decisions ?? [];
  const p = e.verdict.decision.policy;
  const commit = new Committer();
  const body: AuditApprovalBodyV2 = {
    type: 'approval',
    version: 2,
    time: time.toISOString(),
    decisionId: e.verdict.decisionId,
    mode: e.mode,
    outcome: e.outcome.kind,
    approval: approvalStatusOf[e.outcome.kind] ?? 'failed',
    policy: p?.namespace && p.name ? `${p.namespace}/${p.name}` : '',
    server: e.call.server,
    tool: e.call.tool,
    argumentsDigest: argumentsHmac(ctx.digestKey, e.call.arguments),
    request: r ? `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}` : '',
    approvedBy: decisions.filter((d) => d.decision === 'approve').map((d) => commit.commit(d.user)),
    deniedBy: decisions.filter((d) => d.decision === 'deny').map((d) => commit.commit(d.user)),
    ...(r?.status?.consumedBy ? { consumedBy: r.status.consumedBy } : {}),
    // Why the call was not released, where the outcome says (names objects, never values).
    ...(e.outcome.kind === 'failed' || e.outcome.kind === 'untrusted' || e.outcome.kind === 'superseded' ? { message: text(ctx, e.outcome.message) } : {}),
  };
  return withOpenings(body, commit);
}

export function refusalBody(r: RefusalRecord, ctx: RecordContext, time = new Date()): Recordable<AuditRefusalBodyV2> {
  const c = r.caller;
  const commit = new Committer();
  const body: AuditRefusalBodyV2 = {
    type: 'refusal',
    version: 2,
    time: time.toISOString(),
    frontEnd: r.frontEnd,
    stage: r.stage,
    ...(r.httpMethod ? { httpMethod: bounded(r.httpMethod) } : {}),
    ...(r.method !== undefined ? { method: bounded(r.method) } : {}),
    httpStatus: r.httpStatus,
    code: r.code,
    reason: text(ctx, r.reason),
    ...(c ? { caller: { ...agentOf(c, commit), subject: commit.commit(c.subject), issuer: c.issuer } } : {}),
    ...(r.server !== undefined ? { server: bounded(r.server) } : {}),
    ...(r.tool !== undefined ? { tool: bounded(r.tool) } : {}),
    ...(r.target !== undefined ? { target: text(ctx, r.target) } : {}),
    ...(r.sessionId ? { sessionId: r.sessionId } : {}),
    ...(r.requestId !== undefined && r.requestId !== null ? { requestId: typeof r.requestId === 'string' ? bounded(r.requestId) : r.requestId } : {}),
    ...(r.decisionId ? { decisionId: r.decisionId } : {}),
  };
  return withOpenings(body, commit);
}

/** What the upstream answered a call that proceeded; the front ends report it (wired by the lead). */
export interface ResponseEvent {
  decisionId: string;
  server: string;
  tool: string;
  status: ResponseStatus;
  httpStatus?: number;
  errorCode?: number;
  /** The answer's text or error message; redacted and cut to maxClientString here. */
  summary: string;
}

export function responseBody(e: ResponseEvent, ctx: RecordContext, time = new Date()): Recordable<AuditResponseBodyV2> {
  const redactions: Record<string, number> = {};
  return {
    body: {
      type: 'response', version: 2, time: time.toISOString(), decisionId: e.decisionId, server: e.server, tool: e.tool, status: e.status,
      ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}),
      ...(e.errorCode !== undefined ? { errorCode: e.errorCode } : {}),
      outcome: text(ctx, e.summary, redactions),
      redactions,
    },
  };
}

/** Places a body in the chain after the record with `prev` as hash and `seq - 1` as seq. */
export function chain<T extends AuditBody>(r: Recordable<T>, seq: number, prev: string): Chained<T> {
  const { body, personal } = r;
  const line = { ...body, seq, prev };
  const hash = hashOf(line as unknown as Record<string, unknown>);
  return { ...line, hash, ...(personal ? { personal } : {}) } as Chained<T>;
}

/** The bytes of one line of the trail, newline included. */
export function serialize(line: AuditLine): string {
  return `${canonicalJson(line)}\n`;
}

/** Where the chain continues after a line: its seq and the value the next record's prev must hold. */
export function headAfter(line: AuditLine): { seq: number; prev: string } {
  return line.type === 'open' ? { seq: 0, prev: line.genesis } : { seq: line.seq, prev: line.hash };
}

/** The format version of a line: the open line says it; a version 2 record carries `version: 2`, a version 1 record none. */
export const versionOf = (line: Record<string, unknown>): number => (typeof line.version === 'number' ? line.version : 1);

/** Why a line is not JSON the trail could have written. */
function unreadable(err: unknown): string {
  if (!(err instanceof JsonParseError)) return `cannot be read: ${(err as Error).message}`;
  if (err.kind === 'invalid-json') return `not valid JSON (a truncated or edited line): ${err.message}`;
  return `not a line the trail writes (it was edited): ${err.message}`;
}

/**
 * Checks one line on its own, not its place in the chain: that it is JSON the trail could have
 * written (no repeated key, no lone surrogate: the strict parser, keeping every number exactly
 * as written, at any depth), that it has the shape of its kind and version
 * (pkg/contracts/audit.ts), that its hash matches, and that it is byte for byte the canonical
 * form the writer produces (so whitespace or key order edited in does not pass). Openings are
 * checked against their commitments by the verifier (verify.ts). Returns what is wrong, or the
 * parsed line (numbers no double holds exactly come back as strings; chain fields are exact).
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
  const version = versionOf(line);
  const byType = Object.hasOwn(auditLineContracts, version) ? auditLineContracts[version] : undefined;
  if (!byType) return { ok: false, reason: `field "version" is ${JSON.stringify(line.version)}, expected one of ${Object.keys(auditLineContracts).join(', ')}` };
  const kinds = Object.keys(byType);
  const contract = typeof line.type === 'string' && Object.hasOwn(byType, line.type) ? byType[line.type] : undefined;
  if (!contract) return { ok: false, reason: `field "type" is ${JSON.stringify(line.type) ?? 'missing'}, expected one of ${kinds.map((k) => JSON.stringify(k)).join(', ')} (version ${version})` };
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
