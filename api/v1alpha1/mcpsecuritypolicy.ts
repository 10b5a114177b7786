// McpSecurityPolicy: one deployment's policy, the `mcp-security.yaml` of the strategy document
// as a resource. Deployments change this data, never the Rego.
import { ServerToolClassifier } from './classifier.ts';
import type { Condition, ObjectMeta } from './meta.ts';
import { ToolPinningSettings } from './tool-pin.ts';
import { sessionPolicySchemas } from './session-policy.ts';
import {
  Conditions, Duration, Enum, Int, Labels, List, Obj, PersonalFields, Str, StringMap, StringSet, Type,
  dnsLabelPattern, hintProperties, verbs, type Static,
} from './schema.ts';

export const actions = ['allow', 'deny', 'require_approval'] as const;
export type Action = (typeof actions)[number];

/** What a rule can govern: see PolicyWhen.kinds. */
export const operationKinds = ['tool', 'resource', 'prompt', 'logging'] as const;
export type OperationKind = (typeof operationKinds)[number];

const ServerName = (description: string) => Str(description, { pattern: dnsLabelPattern, maxLength: 63 });

export const SecretKeyRef = Obj(
  {
    name: Str('Name of the Secret, in the policy\'s namespace.', { maxLength: 253, minLength: 1 }),
    key: Str('Key within the Secret whose value is the credential.', { maxLength: 253, minLength: 1 }),
  },
  { description: 'A key of a Kubernetes Secret.' },
);

export const VaultRef = Obj(
  {
    path: Str('KV v2 path of the secret (for example `secret/data/mcp/github`).', { maxLength: 512, minLength: 1 }),
    key: Str('Field of the secret whose value is the credential.', { maxLength: 253, minLength: 1 }),
    role: Type.Optional(Str('Vault Kubernetes-auth role the authorizer logs in with.', { maxLength: 253 })),
  },
  { description: 'A field of a Vault KV v2 secret, read with the Kubernetes auth method.' },
);

export const Server = Obj(
  {
    name: ServerName('Short name of the upstream MCP server; prefixes its tools and keys profiles, overrides and policies.'),
    url: Str('Streamable HTTP endpoint of the upstream MCP server.', { pattern: '^https?://', maxLength: 2048 }),
    transport: Type.Optional(Enum(['streamable-http'] as const, { description: 'MCP transport to the upstream server.', default: 'streamable-http' })),
    credentials: Type.Optional(
      Obj(
        {
          secretRef: Type.Optional(SecretKeyRef),
          vault: Type.Optional(VaultRef),
          header: Type.Optional(Str('HTTP header that carries the credential upstream.', { default: 'Authorization', maxLength: 128, pattern: '^[A-Za-z0-9-]+$' })),
          scheme: Type.Optional(Str('Prefix put before the credential in the header (for example `Bearer`); empty for none.', { default: 'Bearer', maxLength: 32 })),
        },
        {
          description: 'Where the upstream credential lives. It is referenced, never stored in the policy.',
          'x-kubernetes-validations': [
            { rule: 'has(self.secretRef) != has(self.vault)', message: 'exactly one of secretRef or vault must be set' },
          ],
        },
      ),
    ),
  },
  { description: 'An upstream MCP server governed by this policy.' },
);

export const ProfileRef = Obj(
  {
    name: Str('Name of the cluster-scoped McpProfile.', { maxLength: 253, minLength: 1 }),
    server: Type.Optional(ServerName('Governed server the profile applies to; defaults to the profile\'s spec.service.')),
  },
  { description: 'A community profile applied to one governed server.' },
);

export const ToolOverride = Obj(
  {
    server: ServerName('Governed server whose tool is overridden.'),
    tool: Str('Tool name as the MCP server reports it.', { maxLength: 256, minLength: 1 }),
    ...hintProperties('The tool'),
    verb: Type.Optional(Enum(verbs, { description: 'Verb of the operation: get, list, create, update or delete.' })),
    labels: Type.Optional(Labels('Labels added to every call of this tool.')),
    scopes: Type.Optional(StringSet('OAuth scopes a caller\'s token must carry to call this tool (replaces the profile\'s).', { maxLength: 256 }, { maxItems: 16 })),
    personalFields: Type.Optional(PersonalFields('this tool, in addition to the profile\'s')),
  },
  { description: 'The operator\'s classification of one tool; it outranks server annotations and profiles.' },
);

export const ResourceOverride = Obj(
  {
    server: ServerName('Governed server whose resources are classified.'),
    uri: Str('Glob over resource URIs (`*` matches any run of characters, `/` included), compared with the canonical URI as forwarded.', { maxLength: 2048, minLength: 1 }),
    verb: Type.Optional(Enum(verbs, { description: 'Verb of reads of these resources; the first override that matches and names one gives it.' })),
    labels: Type.Optional(Labels('Labels added to every operation on a matching resource (union of every matching override).')),
  },
  { description: 'The operator\'s classification of resources: labels and a verb that rules on resources can match.' },
);

export const PromptOverride = Obj(
  {
    server: ServerName('Governed server whose prompts are classified.'),
    prompt: Str('Glob over prompt names, as the server\'s prompts/list spells them.', { maxLength: 256, minLength: 1 }),
    verb: Type.Optional(Enum(verbs, { description: 'Verb of gets of these prompts; the first override that matches and names one gives it.' })),
    labels: Type.Optional(Labels('Labels added to every operation on a matching prompt (union of every matching override).')),
  },
  { description: 'The operator\'s classification of prompts: labels and a verb that rules on prompts can match.' },
);

export const PolicyWhen = Obj(
  {
    ...hintProperties('The called tool'),
    verbs: Type.Optional(StringSet('The call\'s verb is one of these.', { enum: [...verbs] }, { maxItems: 5 })),
    labels: Type.Optional(Labels('With match all: the call carries every one of these labels; with match any: at least one.')),
    servers: Type.Optional(StringSet('The call goes to one of these governed servers.', { maxLength: 63 }, { maxItems: 64 })),
    tools: Type.Optional(StringSet('The tool name matches one of these glob patterns (`*` matches any run of characters).', { maxLength: 256 }, { maxItems: 256 })),
    roles: Type.Optional(StringSet('The caller (agent or human operator) holds one of these roles.', { maxLength: 128 }, { maxItems: 64 })),
    kinds: Type.Optional(StringSet(
      'The kinds of operation the rule governs, always required whatever `match` says: tool (tools/call), resource (resources/read, subscribe, unsubscribe, and completion/complete of a ref/resource), prompt (prompts/get, and completion/complete of a ref/prompt), logging (logging/setLevel). Absent: the kinds the rule\'s conditions name (resource for `resources`, prompt for `prompts`), else tool only, so a rule written before kinds existed keeps governing tools only.',
      { enum: [...operationKinds] }, { maxItems: 4 },
    )),
    resources: Type.Optional(StringSet('The resource URI matches one of these glob patterns (`*` matches any run of characters, `/` included), compared with the URI exactly as it is forwarded; the gate refuses URIs not in canonical form.', { maxLength: 2048 }, { maxItems: 256 })),
    prompts: Type.Optional(StringSet('The prompt name matches one of these glob patterns, exactly as the server\'s prompts/list spells it.', { maxLength: 256 }, { maxItems: 256 })),
  },
  { description: 'Conditions on the classified operation. An empty `when` matches every operation of the rule\'s kinds (tools when it names none).' },
);

export const Policy = Obj(
  {
    name: Str('Unique name of the rule; decisions, audit records and approvals cite it.', { minLength: 1, maxLength: 128 }),
    description: Type.Optional(Str('Why the rule exists, for humans.', { maxLength: 1024 })),
    priority: Int('Evaluation order: the lowest number is evaluated first and the first matching rule decides.', { minimum: 0, maximum: 100000 }),
    when: PolicyWhen,
    match: Type.Optional(Enum(['all', 'any'] as const, { description: 'all: every condition in `when` must hold; any: at least one.', default: 'all' })),
    action: Enum(actions, { description: 'What happens to a matching call: allow, deny or require_approval.' }),
    approvers: Type.Optional(StringSet('Groups whose members may approve a held call (require_approval only).', { maxLength: 253 }, { maxItems: 32 })),
    // No schema default: the API server would add it to allow/deny rules too, which the CEL rule refuses.
    quorum: Type.Optional(Int('How many distinct approvers must approve (require_approval only; 1 when absent).', { minimum: 1, maximum: 10 })),
    timeout: Type.Optional(Duration('How long a held call waits for approval before it is aborted (require_approval only; for example `60m`).')),
  },
  {
    description: 'One rule: when a call matches, the rule\'s action decides it.',
    'x-kubernetes-validations': [
      { rule: "self.action != 'require_approval' || (has(self.approvers) && size(self.approvers) > 0)", message: 'require_approval needs at least one approver group', fieldPath: '.approvers' },
      { rule: "self.action == 'require_approval' || (!has(self.approvers) && !has(self.quorum) && !has(self.timeout))", message: 'approvers, quorum and timeout apply only to require_approval' },
    ],
  },
);
export type Policy = Static<typeof Policy>;

export const { VelocityLimit, FlowRule, SessionPolicy } = sessionPolicySchemas(PolicyWhen);
export type VelocityLimit = Static<typeof VelocityLimit>;
export type FlowRule = Static<typeof FlowRule>;
export type SessionPolicy = Static<typeof SessionPolicy>;

/** Literal text and the placeholders `{agent}`, `{operator}`, `{subject}`, `{issuer}`; no other braces. */
export const kubernetesUsernameTemplatePattern = '^([^{}]|\\{(agent|operator|subject|issuer)\\})+$';

export const RoleBinding = Obj(
  {
    name: Str('Role name that policies refer to in when.roles.', { minLength: 1, maxLength: 128 }),
    subjects: Type.Optional(StringSet('Token subjects (agent client ids or human user ids) that hold this role.', { maxLength: 256 }, { maxItems: 256 })),
    claimValues: Type.Optional(StringSet('Values of the roles claim that grant this role.', { maxLength: 256 }, { maxItems: 64 })),
    tools: Type.Optional(StringSet('Tools this role may call, as `server/tool` globs (for example `gmail/*`). A role with none of tools, resources and prompts is unrestricted; one with any of them grants exactly what they list (nothing of a kind it does not list).', { maxLength: 320 }, { maxItems: 256 })),
    resources: Type.Optional(StringSet('Resources this role may read, subscribe to and complete, as `server/uri` globs over the exact canonical URI (for example `docs/file:///public/*`).', { maxLength: 2048 }, { maxItems: 256 })),
    prompts: Type.Optional(StringSet('Prompts this role may get and complete, as `server/prompt` globs (for example `github/review_*`).', { maxLength: 320 }, { maxItems: 256 })),
  },
  { description: 'A role and who holds it.' },
);

export const Identity = Obj(
  {
    issuer: Str('Expected `iss` of caller tokens.', { minLength: 1, maxLength: 2048 }),
    audience: Str('Expected `aud`: the gateway\'s resource URI (RFC 8707).', { minLength: 1, maxLength: 2048 }),
    jwksUri: Type.Optional(Str('Where the issuer\'s signing keys are published; defaults to OIDC discovery.', { pattern: '^https?://', maxLength: 2048 })),
    algorithms: Type.Optional(StringSet('Accepted JWS algorithms.', { enum: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] }, { maxItems: 10 })),
    maxTokenLifetime: Type.Optional(Duration('Tokens issued for longer than this (exp - iat) are refused.')),
    clockSkew: Type.Optional(Duration('Tolerated clock difference for exp and nbf.')),
    agentClaim: Type.Optional(Str('Claim that names the agent making the call.', { default: 'azp', maxLength: 128 })),
    operatorClaim: Type.Optional(Str('Claim that names the human operator who started the workflow (dots reach into objects, e.g. `act.sub`).', { default: 'sub', maxLength: 128 })),
    rolesClaim: Type.Optional(Str('Claim that lists the caller\'s roles.', { default: 'roles', maxLength: 128 })),
    forbiddenScopes: Type.Optional(StringSet('Scopes an agent token may never carry (for example `admin`, `full_access`).', { maxLength: 256 }, { maxItems: 32 })),
    roles: Type.Optional(List(RoleBinding, 'Roles for agents and human operators.', { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], maxItems: 256 })),
    kubernetesUsernames: Type.Optional(StringSet(
      'How the Kubernetes API server names the callers of this policy, so that nobody approves their own call under another name. '
      + 'Each entry is a template of the username the API server authenticates a caller as, built from the verified token the way '
      + 'its OIDC claim mapping builds it: `{agent}`, `{operator}`, `{subject}` and `{issuer}` stand for the agent, the human operator, '
      + 'the token subject and issuer (for example `oidc:{operator}` for `claimMappings.username.prefix: "oidc:"`, or `{issuer}#{subject}` '
      + 'for the legacy issuer prefix). Every username so mapped is recorded on the caller\'s ApprovalRequests and may not decide on them; '
      + 'the identities themselves never may.',
      { minLength: 1, maxLength: 256, pattern: kubernetesUsernameTemplatePattern },
      { maxItems: 8, 'x-kubernetes-validations': [{ rule: "self.all(t, t.contains('{agent}') || t.contains('{operator}') || t.contains('{subject}'))", message: 'each template must name {agent}, {operator} or {subject}' }] },
    )),
  },
  { description: 'How callers are authenticated (MCP authorization: OAuth 2.1 bearer JWTs) and which roles they hold.' },
);

export type Identity = Static<typeof Identity>;

export const AuditSettings = Obj(
  {
    onFailure: Type.Optional(Enum(['Refuse', 'Allow'] as const, {
      description: 'What the authorizer does with a call whose decision cannot be written to its audit trail (disk full, I/O error): '
        + 'Refuse (the default) refuses it, so no call runs unaudited; Allow lets it through, logged and counted as a lost record. '
        + 'The policy\'s AuditFailures condition says which is in force.',
      default: 'Refuse',
    })),
    requirePurposeFor: Type.Optional(Obj(
      {
        labels: Labels('A tools/call carrying any of these labels (for example `data:pii`, `data:health`) is denied unless the caller states '
          + 'its purpose in params._meta["toolgate.io/purpose"]. Labels come from the tool\'s classification (profiles, toolOverrides) and '
          + 'from argument classifiers, as rules see them.'),
      },
      { description: 'GDPR purpose limitation (Art. 5(1)(b)): which tool calls must state why they are made. The purpose is kept, redacted, in the decision record.' },
    )),
  },
  { description: 'How the authorizers treat the audit trail of the calls this policy governs.' },
);
export type AuditSettings = Static<typeof AuditSettings>;

export const McpSecurityPolicySpec = Obj(
  {
    enforcement: Type.Optional(Enum(['enforce', 'dryrun'] as const, { description: 'enforce: decisions are applied; dryrun: decisions are computed and audited but every call is allowed.', default: 'enforce' })),
    defaultAction: Type.Optional(Enum(actions, { description: 'Decision for a call no rule matches.', default: 'deny' })),
    tenant: Type.Optional(StringMap({ description: 'Tenant variables interpolated into classifier patterns as `{name}` (for example company_domain: acme.com).', maxProperties: 64 })),
    servers: List(Server, 'Upstream MCP servers this policy governs.', { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], minItems: 1, maxItems: 64 }),
    profiles: Type.Optional(List(ProfileRef, 'Community profiles to apply, lowest authority first.', { maxItems: 64 })),
    toolOverrides: Type.Optional(List(ToolOverride, 'Per-tool classification by the operator; outranks annotations and profiles.', { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['server', 'tool'], maxItems: 5000 })),
    resourceOverrides: Type.Optional(List(ResourceOverride, 'Classification of resources by URI pattern (labels, verb), in order.', { maxItems: 1000 })),
    promptOverrides: Type.Optional(List(PromptOverride, 'Classification of prompts by name pattern (labels, verb), in order.', { maxItems: 1000 })),
    classifiers: Type.Optional(List(ServerToolClassifier, 'Argument classifiers, in addition to the profiles\' ones.', { maxItems: 5000 })),
    policies: List(Policy, 'Rules, evaluated by ascending priority; the first match decides.', { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], maxItems: 2000 }),
    identity: Type.Optional(Identity),
    audit: Type.Optional(AuditSettings),
    toolPinning: Type.Optional(ToolPinningSettings),
    session: Type.Optional(SessionPolicy),
  },
  { description: 'Which agent may call which tool with which arguments, and which calls need approval.' },
);
export type McpSecurityPolicySpec = Static<typeof McpSecurityPolicySpec>;

export const Problem = Obj(
  {
    field: Str('Path of the field at fault (for example `spec.policies[2].when.tools[0]`).', { maxLength: 512 }),
    message: Str('What is wrong and what is expected.', { maxLength: 2048 }),
  },
  { description: 'One problem found while validating or compiling the policy.' },
);
export type Problem = Static<typeof Problem>;

export const McpSecurityPolicyStatus = Obj(
  {
    observedGeneration: Type.Optional(Int('The metadata.generation this status describes.', { format: 'int64' })),
    conditions: Type.Optional(Conditions('Ready, Accepted (validation), Compiled (bundle) and Distributed (authorizers).')),
    revision: Type.Optional(Str('Content hash of the bundle compiled from this policy.', { maxLength: 128 })),
    counts: Type.Optional(
      Obj(
        {
          servers: Int('Governed servers.', { minimum: 0 }),
          tools: Int('Classified tools.', { minimum: 0 }),
          policies: Int('Rules.', { minimum: 0 }),
          classifiers: Int('Argument classifiers.', { minimum: 0 }),
        },
        { description: 'Sizes of the compiled policy.' },
      ),
    ),
    problems: Type.Optional(List(Problem, 'Every problem found, each naming its field.', { maxItems: 100 })),
  },
  { description: 'Observed state of the policy, written by the operator.' },
);
export type McpSecurityPolicyStatus = Static<typeof McpSecurityPolicyStatus> & { conditions?: Condition[] };

export interface McpSecurityPolicy {
  apiVersion: 'toolgate.io/v1alpha1';
  kind: 'McpSecurityPolicy';
  metadata: ObjectMeta;
  spec: McpSecurityPolicySpec;
  status?: McpSecurityPolicyStatus;
}
