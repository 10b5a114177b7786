// ApprovalRequest: one held tool call. Its status is where humans' decisions live.
import type { Condition, ObjectMeta } from './meta.ts';
import {
  Conditions, Enum, FreeForm, Int, Labels, List, Obj, Str, StringSet, Type, hintProperties, verbs, type Static,
} from './schema.ts';

export const phases = ['Pending', 'Approved', 'Denied', 'Expired', 'Consumed', 'Superseded'] as const;
export type Phase = (typeof phases)[number];

export const ApprovalRequestSpec = Obj(
  {
    requester: Obj(
      {
        agent: Str('Identity of the agent that made the call (token azp/client_id).', { minLength: 1, maxLength: 256 }),
        operator: Type.Optional(Str('Identity of the human operator on whose behalf the agent acted (token sub).', { maxLength: 256 })),
        kubernetesUsernames: Type.Optional(StringSet(
          'Kubernetes usernames the API server authenticates the agent and the operator as (the policy\'s identity.kubernetesUsernames applied to them); none of them may decide.',
          { minLength: 1, maxLength: 512 }, { maxItems: 16 },
        )),
      },
      { description: 'Who asks. None of these identities may decide on this request.' },
    ),
    policyRef: Obj(
      {
        namespace: Str('Namespace of the McpSecurityPolicy.', { maxLength: 63 }),
        name: Str('Name of the McpSecurityPolicy.', { maxLength: 253 }),
        revision: Type.Optional(Str('Bundle revision the decision was made under.', { maxLength: 128 })),
      },
      { description: 'The policy whose rule held the call.' },
    ),
    rule: Str('Name of the matched rule.', { minLength: 1, maxLength: 128 }),
    reason: Type.Optional(Str('Why the rule held the call, for the approver.', { maxLength: 2048 })),
    server: Str('Governed server the call goes to.', { minLength: 1, maxLength: 63 }),
    tool: Str('Tool being called.', { minLength: 1, maxLength: 256 }),
    verb: Enum(verbs, { description: 'Classified verb of the call.' }),
    labels: Type.Optional(Labels('Labels the call was classified with.')),
    annotations: Type.Optional(Obj(hintProperties('The tool'), { description: 'Resolved MCP annotations of the tool.' })),
    arguments: FreeForm({ description: 'The call\'s arguments, with secret-looking values redacted.' }),
    argumentsDigest: Str('SHA-256 of the canonical JSON of the unredacted arguments; the released call must match it.', { pattern: '^sha256:[0-9a-f]{64}$' }),
    approvers: StringSet('Groups whose members may decide.', { maxLength: 253 }, { minItems: 1, maxItems: 32 }),
    quorum: Int('Distinct approvals needed.', { minimum: 1, maximum: 10 }),
    expiresAt: Str('When the request expires unapproved (timeout-to-abort).', { format: 'date-time' }),
  },
  {
    description: 'One tool call held for human approval. Immutable once created.',
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable' }],
  },
);
export type ApprovalRequestSpec = Static<typeof ApprovalRequestSpec>;

export const Decision = Obj(
  {
    user: Str('Kubernetes user name of the person deciding (checked against the API request).', { minLength: 1, maxLength: 256 }),
    groups: Type.Optional(StringSet('Groups of the person deciding.', { maxLength: 253 }, { maxItems: 64 })),
    decision: Enum(['approve', 'deny'] as const, { description: 'approve or deny.' }),
    reason: Type.Optional(Str('Why, in the decider\'s words.', { maxLength: 2048 })),
    time: Str('When the decision was made.', { format: 'date-time' }),
  },
  { description: 'One human decision.' },
);
export type Decision = Static<typeof Decision>;

export const notificationStates = ['Sending', 'Sent', 'Failed'] as const;

export const NotificationRecord = Obj(
  {
    event: Str('The message: Requested, or the phase it announces (Approved, Denied, Expired, Consumed, Superseded).', { minLength: 1, maxLength: 32 }),
    state: Enum(notificationStates, { description: 'Sending: a delivery was started (and may or may not have arrived); Sent: the chat platform accepted it; Failed: given up.' }),
    attempts: Int('Deliveries started; an operator that finds Sending after a restart starts one more, up to a bound.', { minimum: 0, maximum: 100 }),
    time: Str('When this state was recorded.', { format: 'date-time' }),
    message: Type.Optional(Str('Why the delivery failed.', { maxLength: 1024 })),
  },
  { description: 'The delivery record of one chat notification, written by the operator (field manager toolgate-notifier) before and after sending.' },
);
export type NotificationRecord = Static<typeof NotificationRecord>;

export const ApprovalRequestStatus = Obj(
  {
    phase: Type.Optional(Enum(phases, {
      description: 'Pending, Approved, Denied, Expired, Consumed, or Superseded (the policy changed what the call requires; the call is decided afresh).',
    })),
    decisions: Type.Optional(List(Decision, 'Decisions in the order they were made; append-only.', { maxItems: 32 })),
    consumedBy: Type.Optional(Str('Authorizer pod that released the approved call.', { maxLength: 253 })),
    consumedAt: Type.Optional(Str('When the approved call was released.', { format: 'date-time' })),
    observedGeneration: Type.Optional(Int('The metadata.generation this status describes.', { format: 'int64' })),
    conditions: Type.Optional(Conditions()),
    notifications: Type.Optional(List(NotificationRecord, 'Chat notifications about this request and how far each got, so a restarted operator neither loses nor repeats one.', {
      'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['event'], maxItems: 8,
    })),
  },
  { description: 'Decisions and the resulting phase.' },
);
export type ApprovalRequestStatus = Static<typeof ApprovalRequestStatus> & { conditions?: Condition[] };

export interface ApprovalRequest {
  apiVersion: 'toolgate.io/v1alpha1';
  kind: 'ApprovalRequest';
  metadata: ObjectMeta;
  spec: ApprovalRequestSpec;
  status?: ApprovalRequestStatus;
}

/** What Kubernetes lets a CR string hold comfortably; larger arguments are not stored (approvers see the redacted copy). */
export const maxCanonicalArgumentsBytes = 512 * 1024;

export const ApprovalArgumentsSpec = Obj(
  {
    argumentsDigest: Str('The digest the owning ApprovalRequest binds (its spec.argumentsDigest), for people reading this object.', { pattern: '^sha256:[0-9a-f]{64}$' }),
    canonical: Str('The held call\'s full arguments: the canonical JSON text whose SHA-256 is the digest.', { maxLength: maxCanonicalArgumentsBytes }),
  },
  {
    description: 'The full, unredacted arguments of one held call. Owned by its ApprovalRequest; readable by that request\'s approver groups only. Immutable.',
    'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec is immutable' }],
  },
);
export type ApprovalArgumentsSpec = Static<typeof ApprovalArgumentsSpec>;

export interface ApprovalArguments {
  apiVersion: 'toolgate.io/v1alpha1';
  kind: 'ApprovalArguments';
  metadata: ObjectMeta;
  spec: ApprovalArgumentsSpec;
}
