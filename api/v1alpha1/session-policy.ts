// Session-aware policy (strategy §5.3, §5.4): velocity limits over sliding windows, and flow rules
// that gate sinks for sessions tainted by what they read. Kept apart from mcpsecuritypolicy.ts so
// the stateful part of a policy reads as one block (`spec.session`), and McpSessionTaint: the
// durable record of what a session (and its caller) has read, shared by every authorizer replica.
import type { ObjectMeta } from './meta.ts';
import { Duration, Enum, Int, Labels, List, Obj, Str, StringSet, Type, type Static, type TSchema } from './schema.ts';

const sessionActions = ['deny', 'require_approval'] as const;

const approval = {
  approvers: Type.Optional(StringSet('Groups whose members may approve a held call (require_approval only).', { maxLength: 253 }, { maxItems: 32 })),
  quorum: Type.Optional(Int('How many distinct approvers must approve (require_approval only; 1 when absent).', { minimum: 1, maximum: 10 })),
  timeout: Type.Optional(Duration('How long a held call waits for approval before it is aborted (require_approval only; for example `60m`).')),
};

const approvalValidations = [
  { rule: "self.action != 'require_approval' || (has(self.approvers) && size(self.approvers) > 0)", message: 'require_approval needs at least one approver group', fieldPath: '.approvers' },
  { rule: "self.action == 'require_approval' || (!has(self.approvers) && !has(self.quorum) && !has(self.timeout))", message: 'approvers, quorum and timeout apply only to require_approval' },
];

/**
 * The schemas of `spec.session`, over the rule conditions of McpSecurityPolicy (`PolicyWhen`,
 * passed in: that module imports this one).
 */
export function sessionPolicySchemas<W extends TSchema>(PolicyWhen: W) {
  const VelocityLimit = Obj(
    {
      name: Str('Unique name of the limit; refusals, audit records and `kubectl mcp explain` cite it.', { minLength: 1, maxLength: 128, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
      when: PolicyWhen,
      match: Type.Optional(Enum(['all', 'any'] as const, { description: 'all: every condition in `when` must hold; any: at least one.', default: 'all' })),
      per: Type.Optional(Enum(['session', 'caller'] as const, {
        description: 'Whose calls are counted: session (the MCP session, or the caller\'s conversation when the client sends no session; see the authorizer README) or caller (token issuer and subject, across all its sessions).',
        default: 'session',
      })),
      perTool: Type.Optional(Type.Boolean({ description: 'Count each tool (server and name) separately: "more than 20 calls to the same tool in 10 s".' })),
      max: Int('Calls matching `when` let through within `window` before the limit applies to the next one.', { minimum: 0, maximum: 100000 }),
      firstUse: Type.Optional(Type.Boolean({ description: 'Instead of applying beyond `max`, apply to the first matching call within `window` only (with `max: 0` and `require_approval`): "the first use of a destructive tool in a session needs approval". The approved call, once released, counts, so the next ones pass until the window no longer holds it.' })),
      window: Duration('Length of the sliding window (for example `10s`, `1h`).'),
      action: Enum(sessionActions, { description: 'What happens to a call beyond the limit: deny (retryable: the error says when) or require_approval.' }),
      ...approval,
    },
    { description: 'A velocity limit: at most `max` matching calls per session (or caller) within a sliding window.', 'x-kubernetes-validations': [
      ...approvalValidations,
      { rule: "!has(self.firstUse) || !self.firstUse || (self.max == 0 && self.action == 'require_approval')", message: 'firstUse needs max: 0 and action require_approval (a denied first use would never be counted, so it would deny forever)', fieldPath: '.firstUse' },
    ] },
  );

  const FlowRule = Obj(
    {
      name: Str('Unique name of the flow rule; refusals, audit records and `kubectl mcp explain` cite it.', { minLength: 1, maxLength: 128, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
      from: Labels('Source labels: a session that was let through a call carrying any of these labels (profile, override or classifier labels) is tainted with it.'),
      to: PolicyWhen,
      match: Type.Optional(Enum(['all', 'any'] as const, { description: 'How the conditions of `to` combine: all or any.', default: 'all' })),
      action: Enum(sessionActions, { description: 'What happens to a sink call (one matching `to`) of a tainted session: deny or require_approval.' }),
      ...approval,
    },
    { description: 'A flow rule: data a session read (its taint) may not reach a sink, or only with approval.', 'x-kubernetes-validations': approvalValidations },
  );

  const SessionPolicy = Obj(
    {
      limits: Type.Optional(List(VelocityLimit, 'Velocity limits; every one that matches a call applies (deny before require_approval).', { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], maxItems: 256 })),
      flows: Type.Optional(List(FlowRule, 'Flow rules over the session\'s taint; every one that matches a call applies (deny before require_approval).', { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], maxItems: 256 })),
      taintTTL: Type.Optional(Duration('How long a taint lasts after the tainting call, on the session and on its caller (default `24h`): a new session of the same caller stays tainted this long.')),
    },
    { description: 'Session-aware policy: velocity limits and taint tracking. Applied after the rules: they can only tighten a decision (an allowed call may be denied or held, a held one denied), never loosen it.' },
  );
  return { VelocityLimit, FlowRule, SessionPolicy };
}

export const TaintEntry = Obj(
  {
    label: Str('The source label the session read.', { maxLength: 256 }),
    server: Str('Governed server of the tainting call.', { maxLength: 63 }),
    target: Str('Tool, resource URI or prompt of the tainting call.', { maxLength: 2048 }),
    at: Str('When the tainting call was let through (RFC 3339).', { format: 'date-time', maxLength: 64 }),
    decisionId: Str('Decision id of the tainting call (its audit record).', { maxLength: 64 }),
  },
  { description: 'One label a session was tainted with, and by which call.' },
);
export type TaintEntry = Static<typeof TaintEntry>;

export const McpSessionTaintSpec = Obj(
  {
    scope: Enum(['session', 'caller'] as const, { description: 'What the key names: one session (or conversation) of a caller, or the caller across sessions.' }),
    issuer: Str('Token issuer of the caller.', { maxLength: 2048 }),
    subject: Str('Token subject of the caller.', { maxLength: 1024 }),
    session: Type.Optional(Str('The session id or conversation key (scope session only).', { maxLength: 1024 })),
    entries: List(TaintEntry, 'The first call that tainted the key with each label.', { maxItems: 256 }),
    expiresAt: Str('When the taint lapses (the latest tainting call plus the policy\'s taintTTL); the authorizers delete it after.', { format: 'date-time', maxLength: 64 }),
  },
  { description: 'What one session or caller has read. Written by the authorizers when they let a tainting call through; nobody else needs to write it.' },
);
export type McpSessionTaintSpec = Static<typeof McpSessionTaintSpec>;

export interface McpSessionTaint {
  apiVersion: 'toolgate.io/v1alpha1';
  kind: 'McpSessionTaint';
  metadata: ObjectMeta;
  spec: McpSessionTaintSpec;
}
