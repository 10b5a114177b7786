// Tool-definition pinning (strategy document, risks 2 and 4: tool poisoning and rug pulls).
//
// McpToolPin: one governed tool's accepted definition, one object per (policy, server, tool) in
// the policy's namespace. The authorizer creates it the first time it lists the tool (first
// writer wins: a create, so replicas racing agree on the one stored), and records in its status
// what the server lists now when that differs. People accept a changed definition by writing
// spec.accepted (`kubectl mcp tools accept`); the admission policy (config/admission) makes the
// API server prove who accepted.
//
// McpSecurityPolicy.spec.toolPinning: what a call to a tool whose listed definition is not the
// accepted one gets, until someone accepts it.
import { createHash } from 'node:crypto';
import type { Condition, ObjectMeta } from './meta.ts';
import { Duration, Enum, Int, List, Obj, Str, StringSet, Type, dnsLabelPattern, type Static } from './schema.ts';

export const toolPinHashPattern = '^sha256:[0-9a-f]{64}$';
/** Canonical JSON of a definition above this is pinned by hash only (no diff). */
export const maxPinnedDefinitionLength = 32 * 1024;

export const PinnedDefinition = Obj(
  {
    hash: Str('sha256 of the canonical JSON (RFC 8785) of the tool\'s title, description, inputSchema, outputSchema and annotations.', { pattern: toolPinHashPattern }),
    definition: Type.Optional(Str('That canonical JSON, for diffs; absent when longer than 32 KiB (the hash is still compared).', { maxLength: maxPinnedDefinitionLength })),
  },
  { description: 'One definition of a tool, as its server listed it.' },
);

export const AcceptedDefinition = Obj(
  {
    ...PinnedDefinition.properties,
    by: Str('Kubernetes user name that accepted it (the authorizer\'s service account for the first sight); the admission policy checks it against the API request.', { minLength: 1, maxLength: 256 }),
    at: Str('When it was accepted.', { format: 'date-time' }),
    reason: Type.Optional(Str('Why, in the accepter\'s words (`first sight` for the authorizer).', { maxLength: 2048 })),
  },
  { description: 'The definition calls are allowed with.' },
);
export type AcceptedDefinition = Static<typeof AcceptedDefinition>;

export const McpToolPinSpec = Obj(
  {
    policy: Str('Name of the McpSecurityPolicy (same namespace) governing the server.', { minLength: 1, maxLength: 253 }),
    server: Str('Governed server (spec.servers[].name of the policy).', { pattern: dnsLabelPattern, maxLength: 63 }),
    tool: Str('Tool name exactly as the server lists it.', { minLength: 1, maxLength: 256 }),
    accepted: AcceptedDefinition,
  },
  {
    description: 'Which definition of the tool is accepted. policy, server and tool never change.',
    'x-kubernetes-validations': [{ rule: 'self.policy == oldSelf.policy && self.server == oldSelf.server && self.tool == oldSelf.tool', message: 'spec.policy, spec.server and spec.tool are immutable' }],
  },
);
export type McpToolPinSpec = Static<typeof McpToolPinSpec>;

export const toolPinStates = ['Accepted', 'Changed'] as const;
export type ToolPinState = (typeof toolPinStates)[number];

export const PoisoningFindingSchema = Obj(
  {
    kind: Enum(['instruction', 'hidden-text', 'unusual-unicode', 'exfiltration-url'] as const, { description: 'What was found.' }),
    pattern: Str('Which pattern matched.', { maxLength: 256 }),
    at: Str('Where in the definition (description, inputSchema.properties.x.description, ...).', { maxLength: 1024 }),
  },
  { description: 'One poisoning pattern found in the listed definition; the tool carries the label risk:poisoning.' },
);

export const McpToolPinStatus = Obj(
  {
    state: Type.Optional(Enum(toolPinStates, { description: 'Accepted: the server lists the accepted definition; Changed: it lists another, and calls get spec.toolPinning.onChange of the policy.' })),
    listed: Type.Optional(Obj(
      { ...PinnedDefinition.properties, seenAt: Str('When an authorizer last saw the server list it.', { format: 'date-time' }) },
      { description: 'What the server lists now, when it differs from spec.accepted.' },
    )),
    findings: Type.Optional(List(PoisoningFindingSchema, 'Poisoning patterns in the listed definition.', { maxItems: 32 })),
    checkedAt: Type.Optional(Str('When the listing this status describes was taken; a replica holding an older listing does not overwrite it.', { format: 'date-time' })),
  },
  { description: 'What the authorizers see the server list.' },
);
export type McpToolPinStatus = Static<typeof McpToolPinStatus>;

export interface McpToolPin {
  apiVersion: 'toolgate.io/v1alpha1';
  kind: 'McpToolPin';
  metadata: ObjectMeta;
  spec: McpToolPinSpec;
  status?: McpToolPinStatus & { conditions?: Condition[] };
}

export const toolPinServerLabel = 'toolgate.io/server';
export const toolPinPolicyLabel = 'toolgate.io/policy';

/**
 * The pin's object name: the server, then a digest of (policy, server, tool), so any tool name
 * (up to 256 characters of any text) maps to a valid, stable name, and two policies declaring
 * the same server name never share a pin.
 */
export function toolPinName(policy: string, server: string, tool: string): string {
  return `${server}-${createHash('sha256').update(`${policy}\u0000${server}\u0000${tool}`).digest('hex').slice(0, 20)}`;
}

export const ToolPinningSettings = Obj(
  {
    onChange: Type.Optional(Enum(['Deny', 'RequireApproval'] as const, {
      description: 'What a call to a tool whose listed definition differs from the accepted one gets until it is accepted (`kubectl mcp tools accept`): '
        + 'Deny (the default) refuses it, naming the old and new hash; RequireApproval holds each call for approvers. Either way the tool is left out of tools/list, '
        + 'so the model never reads the unaccepted description.',
      default: 'Deny',
    })),
    approvers: Type.Optional(StringSet('Groups whose members may approve a call to a changed tool (RequireApproval).', { maxLength: 253 }, { maxItems: 32 })),
    quorum: Type.Optional(Int('Distinct approvals needed (RequireApproval).', { minimum: 1, maximum: 10, default: 1 })),
    timeout: Type.Optional(Duration('How long a held call waits for approval (RequireApproval). Default 60m.')),
  },
  {
    description: 'Pin every governed tool\'s definition on first sight (McpToolPin objects) and stop calls to a tool whose definition changed. Absent: no pinning.',
    'x-kubernetes-validations': [{ rule: '!has(self.onChange) || self.onChange != \'RequireApproval\' || (has(self.approvers) && size(self.approvers) > 0)', message: 'onChange RequireApproval needs approvers' }],
  },
);
export type ToolPinningSettings = Static<typeof ToolPinningSettings>;
