// The lines of the audit trail (authorizer/src/audit/record.ts): the open line, one record per
// decision, one per approval outcome and one per refusal. Closed (no unknown field): the trail is written and
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

/** The contract of each line kind, by its `type`. */
export const auditLineContracts: Readonly<Record<string, Contract<unknown>>> = {
  open: contract('open line', AuditOpenSchema),
  decision: contract('decision record', AuditDecisionSchema),
  approval: contract('approval record', AuditApprovalSchema),
  refusal: contract('refusal record', AuditRefusalSchema),
};
