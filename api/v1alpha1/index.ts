// The toolgate.io/v1alpha1 API: every kind's schema, names and printer columns in one table,
// from which crds/*.yaml are generated and objects are validated.
import { ApprovalArgumentsSpec, ApprovalRequestSpec, ApprovalRequestStatus } from './approvalrequest.ts';
import { McpProfileSpec } from './mcpprofile.ts';
import { McpSecurityPolicySpec, McpSecurityPolicyStatus } from './mcpsecuritypolicy.ts';
import { McpSessionTaintSpec } from './session-policy.ts';
import type { TSchema } from './schema.ts';
import { McpToolPinSpec, McpToolPinStatus } from './tool-pin.ts';

export * from './approvalrequest.ts';
export * from './classifier.ts';
export * from './mcpprofile.ts';
export * from './mcpsecuritypolicy.ts';
export * from './authorizer-lease.ts';
export * from './tool-pin.ts';
export { McpSessionTaintSpec, TaintEntry, type McpSessionTaint } from './session-policy.ts';
export type { Condition, KubeObject, ObjectMeta } from './meta.ts';
export { verbs, type Verb } from './schema.ts';

export const group = 'toolgate.io';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}` as const;

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean' | 'number';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: TSchema;
  status?: TSchema;
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' };

export const kinds = {
  McpSecurityPolicy: {
    kind: 'McpSecurityPolicy',
    plural: 'mcpsecuritypolicies',
    singular: 'mcpsecuritypolicy',
    shortNames: ['msp', 'mcppolicy'],
    scope: 'Namespaced',
    description: 'Which agent may call which MCP tool with which arguments, which calls need a human\'s approval, and how callers are identified.',
    spec: McpSecurityPolicySpec,
    status: McpSecurityPolicyStatus,
    printerColumns: [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the policy is valid, compiled and served.' },
      { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Why the policy is (not) ready.' },
      { name: 'Enforcement', type: 'string', jsonPath: '.spec.enforcement', description: 'enforce or dryrun.' },
      { name: 'Revision', type: 'string', jsonPath: '.status.revision', description: 'Bundle revision.', priority: 1 },
      { name: 'Policies', type: 'integer', jsonPath: '.status.counts.policies', description: 'Number of rules.', priority: 1 },
      age,
    ],
  },
  McpProfile: {
    kind: 'McpProfile',
    plural: 'mcpprofiles',
    singular: 'mcpprofile',
    shortNames: ['mcpprof'],
    scope: 'Cluster',
    description: 'Community security profile of one MCP server: each tool\'s annotations, verb, labels, scopes and argument classifiers.',
    spec: McpProfileSpec,
    printerColumns: [
      { name: 'Service', type: 'string', jsonPath: '.spec.service', description: 'MCP server described.' },
      { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'Profile version.' },
      age,
    ],
  },
  ApprovalRequest: {
    kind: 'ApprovalRequest',
    plural: 'approvalrequests',
    singular: 'approvalrequest',
    shortNames: ['approval', 'ar'],
    scope: 'Namespaced',
    description: 'One MCP tool call held for human approval; humans decide in its status.',
    spec: ApprovalRequestSpec,
    status: ApprovalRequestStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Approved, Denied, Expired, Consumed or Superseded.' },
      { name: 'Server', type: 'string', jsonPath: '.spec.server', description: 'Upstream server.' },
      { name: 'Tool', type: 'string', jsonPath: '.spec.tool', description: 'Tool called.' },
      { name: 'Agent', type: 'string', jsonPath: '.spec.requester.agent', description: 'Requesting agent.' },
      { name: 'Rule', type: 'string', jsonPath: '.spec.rule', description: 'Rule that held the call.', priority: 1 },
      { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt', description: 'When it aborts unapproved.' },
      age,
    ],
  },
  ApprovalArguments: {
    kind: 'ApprovalArguments',
    plural: 'approvalarguments',
    singular: 'approvalarguments',
    shortNames: ['arargs'],
    scope: 'Namespaced',
    description: 'The full arguments of one held tool call, for its approvers only (the ApprovalRequest shows them redacted); owned by the request.',
    spec: ApprovalArgumentsSpec,
    printerColumns: [
      { name: 'Digest', type: 'string', jsonPath: '.spec.argumentsDigest', description: 'SHA-256 of the canonical arguments.' },
      age,
    ],
  },
  McpToolPin: {
    kind: 'McpToolPin',
    plural: 'mcptoolpins',
    singular: 'mcptoolpin',
    shortNames: ['toolpin'],
    scope: 'Namespaced',
    description: 'The accepted definition of one governed MCP tool (pinned on first sight); a server listing another is stopped until it is accepted.',
    spec: McpToolPinSpec,
    status: McpToolPinStatus,
    printerColumns: [
      { name: 'Server', type: 'string', jsonPath: '.spec.server', description: 'Governed server.' },
      { name: 'Tool', type: 'string', jsonPath: '.spec.tool', description: 'Tool.' },
      { name: 'State', type: 'string', jsonPath: '.status.state', description: 'Accepted or Changed.' },
      { name: 'Accepted-By', type: 'string', jsonPath: '.spec.accepted.by', description: 'Who accepted the definition.', priority: 1 },
      age,
    ],
  },
  McpSessionTaint: {
    kind: 'McpSessionTaint',
    plural: 'mcpsessiontaints',
    singular: 'mcpsessiontaint',
    shortNames: ['taint'],
    scope: 'Namespaced',
    description: 'What one MCP session (or caller) has read: the source labels its flow rules act on, kept by the authorizers in their own namespace until it lapses.',
    spec: McpSessionTaintSpec,
    printerColumns: [
      { name: 'Scope', type: 'string', jsonPath: '.spec.scope', description: 'session or caller.' },
      { name: 'Subject', type: 'string', jsonPath: '.spec.subject', description: 'Token subject of the caller.' },
      { name: 'Labels', type: 'string', jsonPath: '.spec.entries[*].label', description: 'Source labels read.' },
      { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt', description: 'When the taint lapses.' },
      age,
    ],
  },
} satisfies Record<string, KindDefinition>;

export type KindName = keyof typeof kinds;
