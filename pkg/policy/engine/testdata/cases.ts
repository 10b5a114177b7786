// The decision table's cases: the strategy document's default policies (§6.2) and examples
// (§4.4-4.5) and the governance guide's human-in-the-loop gates, each naming the rule it
// expects. Shared by the wasm decision table (decision-table.test.ts) and the real-OPA
// compatibility test (test/integration/opa-compat.test.ts).
import type { McpSecurityPolicy } from '../../../../api/v1alpha1/index.ts';
import { compilePolicy, type CompiledData } from '../../compiler/index.ts';
import type { Action, PolicyInput } from '../types.ts';
import { fixturePolicy, fixtureProfiles } from './load.ts';

export type Variant = 'base' | 'dryrun' | 'defaultAllow';

export interface Case {
  name: string;
  variant?: Variant;
  input: unknown;
  action: Action;
  rule: string;
  dryRunAction?: Action;
  /** Labels the decision must carry (it may carry more). */
  labels?: string[];
  verb?: string;
  approvers?: string[];
  quorum?: number;
  timeout?: string;
  sources?: string[];
  annotations?: Record<string, boolean>;
}

const allNorgScopes = [
  'norg:contacts:read', 'norg:messaging:write', 'norg:messaging:bulk', 'norg:booking:write', 'norg:booking:modify',
  'norg:crm:write', 'norg:crm:delete', 'norg:ads:read', 'norg:ads:spend',
];

function call(server: string, tool: string, args: Record<string, unknown> = {}, extra: Partial<PolicyInput> = {}): PolicyInput {
  return { server, tool, arguments: args, caller: { agent: 'agent-1', operator: 'alice', roles: [], scopes: allNorgScopes }, ...extra };
}
const as = (roles: string[], input: PolicyInput): PolicyInput => ({ ...input, caller: { ...input.caller, roles } });
const recipients = (n: number) => Array.from({ length: n }, (_, i) => `+1555000${String(i).padStart(4, '0')}`);
const hinted = (input: PolicyInput, annotations: Record<string, unknown>): PolicyInput => ({ ...input, annotations });

export const cases: Case[] = [
  // §6.2 default policies.
  { name: 'SSRF to AWS metadata is blocked', input: call('fetch', 'fetch', { url: 'http://169.254.169.254/latest/meta-data/iam' }), action: 'deny', rule: 'Block SSRF to cloud metadata', labels: ['infra:cloud-metadata'] },
  { name: 'SSRF to GCP metadata is blocked', input: call('fetch', 'fetch', { url: 'http://metadata.google.internal/computeMetadata/v1/' }), action: 'deny', rule: 'Block SSRF to cloud metadata' },
  { name: 'an ordinary fetch is read-only', input: call('fetch', 'fetch', { url: 'https://example.com/169.254.169.254' }), action: 'allow', rule: 'Allow read-only' },
  { name: 'an AWS key in a public issue is blocked', input: call('github', 'create_issue', { title: 'debug', body: 'key=AKIAABCDEFGHIJKLMNOP' }), action: 'deny', rule: 'Block secrets in outbound', labels: ['data:secret'] },
  { name: 'a private key in internal mail is blocked (policy classifier)', input: call('gmail', 'send_email', { to: 'bob@acme.com', body: '-----BEGIN RSA PRIVATE KEY-----\nMIIE' }), action: 'deny', rule: 'Block secrets in outbound' },
  { name: 'external e-mail needs a manager', input: call('gmail', 'send_email', { to: 'eve@evil.com', body: 'hi' }), action: 'require_approval', rule: 'Approve external communication', labels: ['scope:external', 'category:communication'], verb: 'create', approvers: ['manager'], quorum: 1, timeout: '60m' },
  { name: 'internal e-mail is allowed', input: call('gmail', 'send_email', { to: 'bob@acme.com', body: 'hi' }), action: 'allow', rule: 'Allow internal communication', labels: ['scope:internal'] },
  { name: 'internal e-mail to a list of colleagues is allowed', input: call('gmail', 'send_email', { to: ['a@acme.com', 'b@acme.com'] }), action: 'allow', rule: 'Allow internal communication' },
  { name: 'a bcc on internal mail needs a manager', input: call('gmail', 'send_email', { to: 'bob@acme.com', bcc: 'eve@evil.com' }), action: 'require_approval', rule: 'Approve mail with bcc', labels: ['data:bcc-used', 'scope:internal'] },
  { name: 'a null bcc is not a bcc', input: call('gmail', 'send_email', { to: 'bob@acme.com', bcc: null }), action: 'allow', rule: 'Allow internal communication' },
  { name: 'an external draft needs a manager', input: call('gmail', 'draft_email', { to: 'eve@evil.com' }), action: 'require_approval', rule: 'Approve external communication' },
  { name: 'a refund needs finance', input: call('stripe', 'create_refund', { charge: 'ch_1', amount: 5000 }), action: 'require_approval', rule: 'Approve financial actions', approvers: ['finance'], timeout: '24h' },
  { name: 'a large refund is denied', input: call('stripe', 'create_refund', { charge: 'ch_1', amount: 250000 }), action: 'deny', rule: 'Deny large amounts', labels: ['finance:large-amount'] },
  { name: 'an invoice with one large line is denied ([*] path)', input: call('stripe', 'create_invoice', { lines: [{ amount: 100 }, { amount: 150000 }] }), action: 'deny', rule: 'Deny large amounts' },
  { name: 'an invoice with small lines needs finance', input: call('stripe', 'create_invoice', { lines: [{ amount: 100 }, { amount: 200 }] }), action: 'require_approval', rule: 'Approve financial actions' },
  { name: 'applying to production needs ops', input: call('kubernetes', 'kubectl_apply', { context: 'prod-eu', manifest: 'x' }), action: 'require_approval', rule: 'Approve production changes', labels: ['env:production'], approvers: ['ops'], timeout: '30m' },
  { name: 'applying to staging matches no rule', input: call('kubernetes', 'kubectl_apply', { context: 'staging' }), action: 'deny', rule: 'toolgate:default' },
  { name: 'deleting mail needs an admin', input: call('gmail', 'delete_email', { id: '1' }), action: 'require_approval', rule: 'Approve destructive operations', approvers: ['admin'], verb: 'delete' },
  { name: 'same priority: destructive beats production by name ([N] path)', input: call('kubernetes', 'kubectl_delete', { resources: [{ kind: 'Pod', namespace: 'kube-system' }] }), action: 'require_approval', rule: 'Approve destructive operations', labels: ['env:production'] },
  { name: 'arbitrary execution (name pattern) needs an admin', input: call('internal', 'run_report', { sql: 'x' }), action: 'require_approval', rule: 'Approve arbitrary execution', labels: ['category:exec'], timeout: '15m', sources: ['pattern:execute'] },
  { name: 'reading mail is allowed', input: call('gmail', 'read_email', { id: '1' }), action: 'allow', rule: 'Allow read-only', verb: 'get' },
  { name: 'no rule matches: default deny', input: call('github', 'create_issue', { title: 't', body: 'clean' }), action: 'deny', rule: 'toolgate:default' },
  { name: 'no rule matches: the catch-all rule allows', variant: 'defaultAllow', input: call('github', 'create_issue', { title: 't', body: 'clean' }), action: 'allow', rule: 'Default allow' },
  { name: 'the catch-all rule does not outrank denials', variant: 'defaultAllow', input: call('github', 'create_issue', { body: 'AKIAABCDEFGHIJKLMNOP' }), action: 'deny', rule: 'Block secrets in outbound' },

  // Governance guide: human-in-the-loop gates, scopes and RBAC.
  { name: 'a bulk message to 51 contacts needs two admins', input: as(['campaign-manager'], call('norg', 'send_bulk_message', { recipients: recipients(51), text: 'Q2' })), action: 'require_approval', rule: 'Approve bulk messaging', labels: ['audience:bulk'], approvers: ['automation-admins'], quorum: 2, timeout: '2h' },
  { name: 'a message to 50 contacts is not bulk', input: as(['campaign-manager'], call('norg', 'send_bulk_message', { recipients: recipients(50), text: 'Q2' })), action: 'allow', rule: 'Allow messaging for campaign managers' },
  { name: 'bulk without the campaign role still needs approval', input: call('norg', 'send_bulk_message', { recipients: recipients(340) }), action: 'require_approval', rule: 'Approve bulk messaging' },
  { name: 'modifying a booking needs approval (tool glob)', input: call('norg', 'modify_booking', { id: 'BK-1', at: '2025-01-01T10:00:00Z' }), action: 'require_approval', rule: 'Approve booking changes', verb: 'update' },
  { name: 'cancelling a booking needs approval before the destructive rule', input: call('norg', 'cancel_booking', { id: 'BK-1' }), action: 'require_approval', rule: 'Approve booking changes', verb: 'delete' },
  { name: 'creating a booking is allowed', input: call('norg', 'create_booking', { at: '2025-01-01T10:00:00Z' }), action: 'allow', rule: 'Allow booking creation' },
  { name: 'deleting a CRM record needs approval', input: call('norg', 'delete_crm_record', { id: 'C-1' }), action: 'require_approval', rule: 'Approve CRM deletion', approvers: ['automation-admins'] },
  { name: 'changing ad spend needs finance', input: call('norg', 'update_ad_spend', { campaign: 'q2', daily: 500 }), action: 'require_approval', rule: 'Approve financial actions', labels: ['category:ads', 'category:financial'] },
  { name: 'reading ad performance is allowed', input: call('norg', 'get_ad_performance', {}), action: 'allow', rule: 'Allow read-only' },
  { name: 'a token without the messaging scope is denied', input: { ...call('norg', 'send_message', { to: '+15550000' }), caller: { agent: 'agent-1', scopes: ['norg:contacts:read'] } }, action: 'deny', rule: 'toolgate:missing-scope' },
  { name: 'an analyst may not create refunds (role grants)', input: as(['analyst'], call('stripe', 'create_refund', { amount: 1 })), action: 'deny', rule: 'toolgate:role-grant' },
  { name: 'an analyst may read contacts', input: as(['analyst'], call('norg', 'get_contacts', {})), action: 'allow', rule: 'Allow read-only' },
  { name: 'an unrestricted role lifts the grant restriction', input: as(['analyst', 'admin'], call('stripe', 'create_refund', { amount: 1 })), action: 'require_approval', rule: 'Approve financial actions' },

  // Roles in `when`.
  { name: 'SRE break-glass allows a kubectl delete', input: as(['sre'], call('kubernetes', 'kubectl_delete', { resources: [{ namespace: 'default' }] })), action: 'allow', rule: 'Break-glass for SRE' },
  { name: 'break-glass is limited to its servers', input: as(['sre'], call('gmail', 'delete_email', { id: '1' })), action: 'require_approval', rule: 'Approve destructive operations' },
  { name: 'break-glass does not outrank SSRF denial', input: as(['sre'], call('fetch', 'fetch', { url: 'http://169.254.169.254/' })), action: 'deny', rule: 'Block SSRF to cloud metadata' },

  // match: any.
  { name: 'a secret-returning tool needs privacy approval (any: hint)', input: call('github', 'get_secret_scanning_alert', { n: 1 }), action: 'require_approval', rule: 'Approve secrets or PII access', approvers: ['privacy'] },
  { name: 'a PII-returning tool needs privacy approval (any: label)', input: call('stripe', 'list_customers', {}), action: 'require_approval', rule: 'Approve secrets or PII access' },

  // Classification precedence.
  { name: 'an override outranks the name pattern (run_query is read-only)', input: call('internal', 'run_query', { sql: 'select 1' }), action: 'allow', rule: 'Allow read-only', verb: 'list', sources: ['override'] },
  { name: 'an override outranks the profile (merge is destructive)', input: call('github', 'merge_pull_request', { n: 1 }), action: 'require_approval', rule: 'Approve destructive operations', sources: ['profile:github', 'override'], labels: ['category:code'] },
  { name: 'an unprofiled tool of a profiled server falls back to the pattern', input: call('gmail', 'delete_label', { id: 'x' }), action: 'require_approval', rule: 'Approve destructive operations', verb: 'delete', sources: ['pattern:delete'] },
  { name: 'an unknown read tool is read-only by pattern', input: call('internal', 'list_tables', {}), action: 'allow', rule: 'Allow read-only', verb: 'list' },
  { name: 'an unknown tool with no hints gets the MCP defaults (destructive)', input: call('internal', 'frobnicate', {}), action: 'require_approval', rule: 'Approve destructive operations', verb: '', annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true } },

  // Server annotations: used where nothing else speaks, overridden where something does.
  { name: 'server hints classify an otherwise unknown tool', input: hinted(call('sandbox', 'peek'), { readOnlyHint: true }), action: 'allow', rule: 'Allow read-only', sources: ['server'] },
  { name: 'an override overrides a server claiming read-only', input: hinted(call('sandbox', 'reset_sandbox'), { readOnlyHint: true, destructiveHint: false }), action: 'require_approval', rule: 'Approve destructive operations', sources: ['server', 'override'] },
  { name: 'the pattern overrides a server claiming a delete is read-only', input: hinted(call('sandbox', 'delete_all'), { readOnlyHint: true, destructiveHint: false }), action: 'require_approval', rule: 'Approve destructive operations', sources: ['server', 'pattern:delete'] },
  { name: 'a server admitting writes is believed over a read-only name', input: hinted(call('sandbox', 'get_status'), { readOnlyHint: false }), action: 'require_approval', rule: 'Approve destructive operations' },
  { name: 'a read-only name with no hints is read-only', input: call('sandbox', 'get_status'), action: 'allow', rule: 'Allow read-only' },
  { name: 'the profile overrides a server claiming send_email is read-only', input: hinted(call('gmail', 'send_email', { to: 'eve@evil.com' }), { readOnlyHint: true }), action: 'require_approval', rule: 'Approve external communication' },

  // Dry run: decide and report, never block (except what cannot be decided at all).
  { name: 'dry run reports an approval but allows', variant: 'dryrun', input: call('gmail', 'send_email', { to: 'eve@evil.com' }), action: 'allow', dryRunAction: 'require_approval', rule: 'Approve external communication', approvers: ['manager'] },
  { name: 'dry run reports a denial but allows', variant: 'dryrun', input: call('fetch', 'fetch', { url: 'http://169.254.169.254/' }), action: 'allow', dryRunAction: 'deny', rule: 'Block SSRF to cloud metadata' },
  { name: 'dry run reports the default but allows', variant: 'dryrun', input: call('github', 'create_issue', { body: 'clean' }), action: 'allow', dryRunAction: 'deny', rule: 'toolgate:default' },
  { name: 'dry run reports an allow', variant: 'dryrun', input: call('gmail', 'read_email', {}), action: 'allow', dryRunAction: 'allow', rule: 'Allow read-only' },
  { name: 'dry run still denies malformed input', variant: 'dryrun', input: { server: 'gmail', arguments: {} }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'dry run still denies an unknown server', variant: 'dryrun', input: call('dropbox', 'share_file'), action: 'deny', rule: 'toolgate:unknown-server' },

  // Malformed input is denied with a reason, never allowed.
  { name: 'no tool name', input: { server: 'gmail', arguments: {} }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'empty tool name', input: { server: 'gmail', tool: '' }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'tool name not a string', input: { server: 'gmail', tool: ['read_email'] }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'no server', input: { tool: 'read_email' }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'arguments as an array', input: { server: 'gmail', tool: 'read_email', arguments: ['1'] }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'arguments as a string', input: { server: 'gmail', tool: 'read_email', arguments: '{"id":1}' }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'annotations not an object', input: { server: 'gmail', tool: 'read_email', annotations: 'readOnly' }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'roles not an array of strings', input: { server: 'gmail', tool: 'read_email', caller: { roles: 'sre' } }, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'input is a string', input: 'tools/call gmail read_email', action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'input is null', input: null, action: 'deny', rule: 'toolgate:invalid-input' },
  { name: 'unknown server', input: call('dropbox', 'share_file'), action: 'deny', rule: 'toolgate:unknown-server' },
];

export function variantPolicy(variant: Variant): McpSecurityPolicy {
  const policy = fixturePolicy();
  if (variant === 'dryrun') policy.spec.enforcement = 'dryrun';
  if (variant === 'defaultAllow') policy.spec.policies.push({ name: 'Default allow', priority: 999, when: {}, action: 'allow' });
  return policy;
}

export function compileVariant(variant: Variant): CompiledData {
  const { data, problems } = compilePolicy(variantPolicy(variant), fixtureProfiles());
  if (!data) throw new Error(`fixture ${variant} does not compile: ${JSON.stringify(problems)}`);
  return data;
}

export const variants: readonly Variant[] = ['base', 'dryrun', 'defaultAllow'];
