// The lines of the audit trail (authorizer/src/audit/record.ts). Version 1 (the open line, one
// record per decision, approval outcome and refusal) is still read; version 2 lines say
// `version: 2` each, carry the governance guide's fields, commit personal values (see
// `personal` below) and add checkpoint, response and erasure lines. Closed (no unknown field): the trail is written and
// read by toolgate alone, and a verifier must not pass over a field it cannot vouch for. A new
// record kind is a new entry of auditLineContracts, keyed by its `type`.
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { contract, StringEnum, type Contract } from './contract.ts';

const hex64 = '^[0-9a-f]{64}$';
const genesis = '^genesis:[0-9a-f]{32}$';
const isoTime = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$', description: 'UTC time, as Date.toISOString writes it.' });
const digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$', description: '"sha256:<hex>" of the canonical JSON of the unredacted arguments.' });

const closed = <T extends TProperties>(properties: T) => Type.Object(properties, { additionalProperties: false });

/** The fields that place a record in the chain. */
const chainFields = {
  seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  prev: Type.String({ pattern: '^(genesis:[0-9a-f]{32}|[0-9a-f]{64})$', description: 'The previous line\'s hash, or the open line\'s genesis value.' }),
  hash: Type.String({ pattern: hex64, description: 'sha256 of the canonical JSON of the line without `hash`.' }),
};

export const AuditOpenSchema = closed({
  type: Type.Literal('open'),
  version: Type.Integer({ minimum: 1 }),
  seq: Type.Literal(0),
  time: isoTime,
  genesis: Type.String({ pattern: genesis, description: '"genesis:<128-bit random hex>": the first record\'s prev.' }),
  hash: chainFields.hash,
});

export const AuditDecisionBodySchema = closed({
  type: Type.Literal('decision'),
  time: isoTime,
  decisionId: Type.String({ minLength: 1 }),
  frontEnd: Type.String(),
  policy: Type.String({ description: '"<namespace>/<name>" of the deciding McpSecurityPolicy; \'\' when none decided (no bundle, unknown server).' }),
  revision: Type.String(),
  server: Type.String(),
  tool: Type.String({ description: 'The tool of a tools/call; \'\' for another operation (then method and kind say what it was).' }),
  method: Type.Optional(Type.String({ description: 'JSON-RPC method of an operation other than tools/call (resources/read, prompts/get, completion/complete, logging/setLevel, ...).' })),
  kind: Type.Optional(Type.String({ description: 'resource, prompt or logging; absent for tools/call.' })),
  target: Type.Optional(Type.String({ description: 'The resource URI or prompt name decided on, as forwarded.' })),
  verb: Type.String(),
  labels: Type.Array(Type.String()),
  action: Type.String(),
  dryRunAction: Type.Optional(Type.String()),
  rule: Type.String(),
  reasons: Type.Array(Type.String()),
  caller: closed({
    agent: Type.Optional(Type.String()),
    operator: Type.Optional(Type.String()),
    subject: Type.String(),
    issuer: Type.String(),
    roles: Type.Array(Type.String()),
  }),
  sessionId: Type.Optional(Type.String()),
  argumentsDigest: digest,
  arguments: Type.Unknown({ description: 'Redacted with the approvals redactor.' }),
});

export const AuditApprovalBodySchema = closed({
  type: Type.Literal('approval'),
  time: isoTime,
  decisionId: Type.String({ minLength: 1 }),
  mode: StringEnum(['hold', 'retry'] as const),
  outcome: Type.String({ minLength: 1 }),
  policy: Type.String(),
  server: Type.String(),
  tool: Type.String(),
  argumentsDigest: digest,
  request: Type.String({ description: '"<namespace>/<name>" of the ApprovalRequest; \'\' when none could be read or created.' }),
  approvedBy: Type.Array(Type.String()),
  deniedBy: Type.Array(Type.String()),
  consumedBy: Type.Optional(Type.String()),
  message: Type.Optional(Type.String({ description: 'For a failed, untrusted or superseded outcome: why (names objects, never values).' })),
});

/**
 * A request or message refused, wherever in the gate it was refused: transport, authentication,
 * parse, method, decision or approval. What the client was answered (HTTP status, JSON-RPC code
 * and message) and, as far as it was known, who asked for what. Never a token, a credential or
 * arguments; client-chosen strings are cut to a bounded length by the writer.
 */
export const AuditRefusalBodySchema = closed({
  type: Type.Literal('refusal'),
  time: isoTime,
  frontEnd: Type.String(),
  stage: Type.String({ minLength: 1 }),
  httpMethod: Type.Optional(Type.String({ description: 'HTTP method of the request, when there was one.' })),
  method: Type.Optional(Type.String({ description: 'JSON-RPC method, once the message was read.' })),
  httpStatus: Type.Integer({ minimum: 100, maximum: 599 }),
  code: Type.Integer(),
  reason: Type.String(),
  caller: Type.Optional(AuditDecisionBodySchema.properties.caller),
  server: Type.Optional(Type.String()),
  tool: Type.Optional(Type.String()),
  target: Type.Optional(Type.String({ description: 'The resource URI or prompt name of a refused operation.' })),
  sessionId: Type.Optional(Type.String()),
  requestId: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: 'JSON-RPC id of the refused request.' })),
  decisionId: Type.Optional(Type.String({ description: 'The decision record of the same decisionId says why the policy refused.' })),
});

/** A body with its place in the chain. */
const chained = <T extends TProperties>(body: TObject<T>) => closed({ ...body.properties, ...chainFields });

export const AuditDecisionSchema = chained(AuditDecisionBodySchema);
export const AuditApprovalSchema = chained(AuditApprovalBodySchema);
export const AuditRefusalSchema = chained(AuditRefusalBodySchema);

export type AuditOpen = Static<typeof AuditOpenSchema>;
export type AuditDecisionBody = Static<typeof AuditDecisionBodySchema>;
export type AuditApprovalBody = Static<typeof AuditApprovalBodySchema>;
export type AuditDecision = Static<typeof AuditDecisionSchema>;
export type AuditApproval = Static<typeof AuditApprovalSchema>;
export type AuditRefusalBody = Static<typeof AuditRefusalBodySchema>;
export type AuditRefusal = Static<typeof AuditRefusalSchema>;

/** The contract of each version 1 line kind, by its `type`. */
export const auditLineContractsV1: Readonly<Record<string, Contract<unknown>>> = {
  open: contract('open line', AuditOpenSchema),
  decision: contract('decision record', AuditDecisionSchema),
  approval: contract('approval record', AuditApprovalSchema),
  refusal: contract('refusal record', AuditRefusalSchema),
};

// ---- version 2 ----

/** "commit:<hex>": sha256 of salt, a NUL and the value. The chained hash covers this, not the value. */
export const commitmentPattern = '^commit:[0-9a-f]{64}$';
const Commitment = Type.String({ pattern: commitmentPattern, description: 'A personal value, committed; its opening is in `personal`.' });
const hmacDigest = Type.String({ pattern: '^hmac-sha256:[0-9a-f]{64}$', description: '"hmac-sha256:<hex>" under the trail\'s digest key, of the canonical JSON of the unredacted arguments.' });
const version2 = Type.Literal(2);

/**
 * The openings of a line's commitments, outside the chained hash: the salt and value, or, once
 * erased (kubectl mcp audit erase), the pseudonym an erasure line of the same trail names.
 */
export const OpeningsSchema = Type.Record(
  Type.String({ pattern: commitmentPattern }),
  Type.Union([
    closed({ salt: Type.String({ pattern: '^[0-9a-f]{32}$' }), value: Type.String() }),
    closed({ pseudonym: Type.String({ pattern: '^pseudonym:[0-9a-f]{32}$' }) }),
  ]),
);

export const approvalStatuses = ['bypassed', 'pending', 'approved', 'rejected', 'timed-out', 'failed'] as const;
export const responseStatuses = ['success', 'error', 'rate-limited'] as const;

const Agent = closed({
  instance: Type.Optional(Commitment),
  roles: Type.Array(Type.String(), { description: 'The identity roles (spec.identity.roles) the caller holds: its profile.' }),
});
const Caller2 = closed({ subject: Commitment, issuer: Type.String() });

export const AuditOpenV2Schema = closed({
  ...AuditOpenSchema.properties,
  version: version2,
  instance: Type.String({ description: 'The authorizer instance (pod) whose chain this is.' }),
});

export const AuditDecisionBodyV2Schema = closed({
  type: Type.Literal('decision'),
  version: version2,
  time: isoTime,
  decisionId: Type.String({ minLength: 1 }),
  frontEnd: Type.String(),
  enforcement: Type.String({ description: 'enforce or dryrun.' }),
  policy: AuditDecisionBodySchema.properties.policy,
  revision: Type.String(),
  server: Type.String(),
  tool: Type.String(),
  method: Type.String({ description: 'The JSON-RPC method decided on (tools/call, resources/read, ...).' }),
  kind: Type.Optional(Type.String()),
  target: Type.Optional(Type.String()),
  classification: closed({
    verb: Type.String(),
    labels: Type.Array(Type.String()),
    annotations: Type.Record(Type.String(), Type.Boolean()),
    sources: Type.Array(Type.String()),
  }),
  action: Type.String(),
  dryRunAction: Type.Optional(Type.String()),
  rule: Type.String(),
  reasons: Type.Array(Type.String()),
  approval: StringEnum(approvalStatuses),
  agent: Agent,
  operator: Type.Optional(Commitment),
  caller: Caller2,
  scopes: Type.Optional(closed({
    required: Type.Array(Type.String(), { description: 'The scopes the tool needs (profile or override).' }),
    used: Type.Array(Type.String(), { description: 'Those of them the token carried.' }),
  })),
  sessionId: Type.Optional(Type.String()),
  purpose: Type.Optional(Type.String({ description: 'The purpose the caller stated (params._meta["toolgate.io/purpose"]), redacted.' })),
  argumentsDigest: hmacDigest,
  arguments: Type.Unknown({ description: 'Redacted by pkg/redact.' }),
  redactions: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { description: 'What redaction replaced, by detector.' }),
});

export const AuditApprovalBodyV2Schema = closed({
  type: Type.Literal('approval'),
  version: version2,
  time: isoTime,
  decisionId: Type.String({ minLength: 1 }),
  mode: StringEnum(['hold', 'retry'] as const),
  outcome: Type.String({ minLength: 1 }),
  approval: StringEnum(approvalStatuses),
  policy: Type.String(),
  server: Type.String(),
  tool: Type.String(),
  argumentsDigest: hmacDigest,
  request: Type.String(),
  approvedBy: Type.Array(Commitment),
  deniedBy: Type.Array(Commitment),
  consumedBy: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});

export const AuditRefusalBodyV2Schema = closed({
  ...AuditRefusalBodySchema.properties,
  version: version2,
  caller: Type.Optional(closed({ agent: Agent, operator: Type.Optional(Commitment), subject: Commitment, issuer: Type.String() })),
});

/** What the upstream answered a call that proceeded: the status and a redacted summary. */
export const AuditResponseBodyV2Schema = closed({
  type: Type.Literal('response'),
  version: version2,
  time: isoTime,
  decisionId: Type.String({ minLength: 1 }),
  server: Type.String(),
  tool: Type.String(),
  status: StringEnum(responseStatuses),
  httpStatus: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  errorCode: Type.Optional(Type.Integer()),
  outcome: Type.String({ description: 'A redacted summary of the answer, bounded in length.' }),
  redactions: Type.Record(Type.String(), Type.Integer({ minimum: 1 })),
});

/** A signed seal over the chain so far: `jws` (compact, ES256 or EdDSA) signs instance, index, seq and prev. */
export const AuditCheckpointBodySchema = closed({
  type: Type.Literal('checkpoint'),
  version: version2,
  time: isoTime,
  instance: Type.String(),
  index: Type.Integer({ minimum: 1, description: 'The checkpoint\'s number in this trail, from 1.' }),
  keyId: Type.String(),
  jws: Type.String({ pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' }),
});

/** Personal values replaced by a pseudonym (GDPR Art. 17): which commitments, and the pseudonym their openings now hold. */
export const AuditErasureBodySchema = closed({
  type: Type.Literal('erasure'),
  version: version2,
  time: isoTime,
  pseudonym: Type.String({ pattern: '^pseudonym:[0-9a-f]{32}$' }),
  commitments: Type.Array(Commitment),
  reason: Type.String({ maxLength: 1024 }),
});

const chained2 = <T extends TProperties>(body: TObject<T>) => closed({ ...body.properties, ...chainFields, personal: Type.Optional(OpeningsSchema) });

export const AuditDecisionV2Schema = chained2(AuditDecisionBodyV2Schema);
export const AuditApprovalV2Schema = chained2(AuditApprovalBodyV2Schema);
export const AuditRefusalV2Schema = chained2(AuditRefusalBodyV2Schema);
export const AuditResponseV2Schema = chained2(AuditResponseBodyV2Schema);
// A sink's dropped lines, declared in the chain (authorizer/src/audit/sinks/overflow.ts).
export const AuditOverflowBodySchema = closed({
  type: Type.Literal('overflow'),
  version: version2,
  time: isoTime,
  sink: Type.String({ minLength: 1, maxLength: 256, description: 'The sink that did not get the lines.' }),
  dropped: Type.Integer({ minimum: 1, description: 'How many lines the sink did not get.' }),
  seqs: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]), { description: 'The seqs dropped, as inclusive [from, to] ranges in order.' }),
  reason: Type.String({ maxLength: 1024, description: 'Why: buffer full, or still unsent when the trail closed.' }),
});
export type AuditOverflowBody = Static<typeof AuditOverflowBodySchema>;
export const AuditOverflowSchema = closed({ ...AuditOverflowBodySchema.properties, ...chainFields });
export type AuditOverflow = Static<typeof AuditOverflowSchema>;

// A rotated file of the trail deleted at the end of its retention (authorizer/src/audit/rotation.ts):
// which file, the seqs it held and the hash of its last line, which the first line after it names
// as its prev, so a verifier still reads the files that remain as one chain.
export const AuditExpiryBodySchema = closed({
  type: Type.Literal('expiry'),
  version: version2,
  time: isoTime,
  instance: Type.String({ description: 'The chain the file belonged to (its open line\'s instance, this writer\'s when the open line is gone).' }),
  file: Type.String({ minLength: 1, maxLength: 1024, description: 'The deleted file\'s name (no directory).' }),
  seqs: Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })], { description: 'The seqs the file held, inclusive.' }),
  lastHash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The hash of the file\'s last line: the prev of the first line after it.' }),
  lines: Type.Integer({ minimum: 1, description: 'How many lines the file held.' }),
  keptUntil: isoTime,
});
export type AuditExpiryBody = Static<typeof AuditExpiryBodySchema>;
export const AuditExpirySchema = closed({ ...AuditExpiryBodySchema.properties, ...chainFields });
export type AuditExpiry = Static<typeof AuditExpirySchema>;

export const AuditCheckpointSchema = closed({ ...AuditCheckpointBodySchema.properties, ...chainFields });
export const AuditErasureSchema = closed({ ...AuditErasureBodySchema.properties, ...chainFields });

export type Openings = Static<typeof OpeningsSchema>;
export type ApprovalStatus = (typeof approvalStatuses)[number];
export type ResponseStatus = (typeof responseStatuses)[number];
export type AuditOpenV2 = Static<typeof AuditOpenV2Schema>;
export type AuditDecisionBodyV2 = Static<typeof AuditDecisionBodyV2Schema>;
export type AuditApprovalBodyV2 = Static<typeof AuditApprovalBodyV2Schema>;
export type AuditRefusalBodyV2 = Static<typeof AuditRefusalBodyV2Schema>;
export type AuditResponseBodyV2 = Static<typeof AuditResponseBodyV2Schema>;
export type AuditCheckpointBody = Static<typeof AuditCheckpointBodySchema>;
export type AuditErasureBody = Static<typeof AuditErasureBodySchema>;
export type AuditDecisionV2 = Static<typeof AuditDecisionV2Schema>;
export type AuditApprovalV2 = Static<typeof AuditApprovalV2Schema>;
export type AuditRefusalV2 = Static<typeof AuditRefusalV2Schema>;
export type AuditResponseV2 = Static<typeof AuditResponseV2Schema>;
export type AuditCheckpoint = Static<typeof AuditCheckpointSchema>;
export type AuditErasure = Static<typeof AuditErasureSchema>;

/** The contract of each version 2 line kind, by its `type`. */
export const auditLineContractsV2: Readonly<Record<string, Contract<unknown>>> = {
  open: contract('open line', AuditOpenV2Schema),
  decision: contract('decision record', AuditDecisionV2Schema),
  approval: contract('approval record', AuditApprovalV2Schema),
  refusal: contract('refusal record', AuditRefusalV2Schema),
  response: contract('response record', AuditResponseV2Schema),
  checkpoint: contract('checkpoint line', AuditCheckpointSchema),
  erasure: contract('erasure line', AuditErasureSchema),
  overflow: contract('overflow record', AuditOverflowSchema),
  expiry: contract('expiry record', AuditExpirySchema),
};

/** The contracts of each format version a verifier reads. */
export const auditLineContracts: Readonly<Record<number, Readonly<Record<string, Contract<unknown>>>>> = { 1: auditLineContractsV1, 2: auditLineContractsV2 };
