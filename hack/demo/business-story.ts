// The governance guide's business-automation story (reference/agent-governance-guide.txt) as
// toolgate tells it: a campaign agent works a Norg-style MCP server through the authorizer's
// proxy. Reading contacts and one follow-up message go through; a broadcast to the 340 contacts
// of the Q2 campaign, a booking change and an ad-spend change each wait for a human; a CRM
// deletion nobody approves expires (timeout-to-abort, never timeout-to-proceed); a token with
// `full_access` is refused outright. `make demo` prints it; the integration test asserts it.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ApprovalRequest, Identity, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';

/** The human groups whose members decide, by what they are accountable for. */
export const approverGroups = { marketing: 'marketing-leads', frontDesk: 'front-desk', finance: 'finance', dataStewards: 'data-stewards' } as const;

/** The scopes of the guide's "Full Automation Agent" plus CRM deletion, which only a human releases here. */
export const agentScopes = [
  'norg:contacts:read', 'norg:messaging:write', 'norg:messaging:bulk', 'norg:booking:write', 'norg:booking:modify',
  'norg:crm:write', 'norg:crm:delete', 'norg:ads:read', 'norg:ads:spend',
];

export interface StoryPolicyOptions {
  namespace: string;
  name?: string;
  /** The business-automation server's MCP endpoint. */
  serverUrl: string;
  /** The McpProfile (profiles/business-automation.yaml) as installed. */
  profile: string;
  identity: Identity;
  /** How long a CRM deletion waits before it is aborted. */
  crmDeleteTimeout: string;
}

/** The guide's controls as one McpSecurityPolicy; anything not named is denied. */
export function businessPolicy(o: StoryPolicyOptions): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: o.name ?? 'campaign-agent', namespace: o.namespace },
    spec: {
      defaultAction: 'deny',
      servers: [{ name: 'norg', url: o.serverUrl }],
      profiles: [{ name: o.profile, server: 'norg' }],
      identity: { ...o.identity, forbiddenScopes: ['admin', 'full_access'] },
      policies: [
        { name: 'no-secrets-out', description: 'Credentials never leave in a message.', priority: 1, when: { labels: ['data:secret'] }, action: 'deny' },
        { name: 'bulk-needs-marketing-lead', description: 'Broadcasts to more than 50 contacts (guide: HITL, high risk).', priority: 10, when: { labels: ['scope:bulk'] }, action: 'require_approval', approvers: [approverGroups.marketing], timeout: '30m' },
        { name: 'booking-changes-need-front-desk', description: 'Moving or cancelling someone\'s appointment.', priority: 20, when: { tools: ['modify_booking', 'cancel_booking'] }, action: 'require_approval', approvers: [approverGroups.frontDesk], timeout: '30m' },
        { name: 'crm-delete-needs-data-steward', description: 'Irreversible; unanswered it aborts.', priority: 30, when: { tools: ['delete_crm_record'] }, action: 'require_approval', approvers: [approverGroups.dataStewards], timeout: o.crmDeleteTimeout },
        { name: 'ad-spend-needs-finance', description: 'Spent budget does not come back.', priority: 40, when: { labels: ['category:financial'] }, action: 'require_approval', approvers: [approverGroups.finance], timeout: '30m' },
        { name: 'reads', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
        { name: 'follow-ups-and-bookings', description: 'One message to one contact; new bookings can be cancelled.', priority: 60, when: { tools: ['send_message', 'create_booking', 'create_crm_record', 'update_crm_record'] }, action: 'allow' },
      ],
    },
  };
}

export interface StoryOutcome {
  /** What the agent tried, in the story's words. */
  step: string;
  tool: string;
  result: 'answered' | 'refused';
  /** The JSON-RPC error code of a refusal. */
  code?: number;
  /** The server's answer, or the refusal's message. */
  detail: string;
}

export type Decider = (group: keyof typeof approverGroups, verb: 'approve' | 'deny', request: ApprovalRequest, reason: string) => Promise<void>;

export interface StoryCast {
  /** The authorizer's MCP endpoint. */
  proxyUrl: string;
  /** A bearer token for the campaign agent with `scopes`. */
  token(scopes: string[]): Promise<string>;
  /** The ApprovalRequest the held call of `tool` created, once it exists (in whatever phase: one may expire before it is looked at). */
  pendingRequest(tool: string): Promise<ApprovalRequest>;
  decide: Decider;
  /** Narration (the demo prints it; the test discards it). */
  say(text: string): void;
  /** Shown while calls are held (the demo lists the pending requests). */
  whileHeld?(): Promise<void>;
}

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'campaign-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

export async function runBusinessStory(cast: StoryCast): Promise<StoryOutcome[]> {
  const outcomes: StoryOutcome[] = [];
  const client = await connect(cast.proxyUrl, await cast.token(agentScopes));
  const call = async (step: string, tool: string, args: Record<string, unknown>): Promise<StoryOutcome> => {
    let outcome: StoryOutcome;
    try {
      // Held calls wait for a person: well past the SDK's 60 s default.
      const r = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 600_000 });
      const text = (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join(' ');
      outcome = { step, tool, result: r.isError ? 'refused' : 'answered', detail: text };
    } catch (err) {
      if (!(err instanceof McpError)) throw err;
      outcome = { step, tool, result: 'refused', code: err.code, detail: err.message };
    }
    outcomes.push(outcome);
    cast.say(`${step}: ${tool} → ${outcome.result}${outcome.code !== undefined ? ` (${outcome.code})` : ''}: ${outcome.detail.length > 160 ? `${outcome.detail.slice(0, 160)}…` : outcome.detail}`);
    return outcome;
  };
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    cast.say(`the agent sees ${tools.length} tools: ${tools.join(', ')}`);

    const contacts = await call('read the Q2 campaign contacts', 'search_contacts', { tag: 'q2-campaign', limit: 400 });
    const ids = (JSON.parse(contacts.detail) as { contacts: Array<{ id: string }> }).contacts.map((c) => c.id);
    await call('one follow-up to one lead', 'send_message', { contact_id: ids[0], body: 'Thanks for your time today, here is the brochure we discussed.' });
    await call('a follow-up that leaks a credential', 'send_message', { contact_id: ids[1], body: 'Use api_key=sk_live_51HxDemoDemoDemoDemo to log in.' });

    // Four calls held at once, each waiting for its own group; the agent's requests stay open.
    const bulk = call(`broadcast to all ${ids.length} campaign contacts`, 'send_bulk_message', { recipients: ids, body: 'Q2 offer: 20% off consultations booked before June 30.' });
    const booking = call('move a customer\'s appointment', 'modify_booking', { booking_id: 'BK-20240312-0047', start: '2024-03-14T09:00:00Z' });
    const spend = call('raise the search campaign\'s daily budget', 'update_ad_spend', { campaign_id: 'AD-Q2-SEARCH', daily_budget: 400 });
    const deletion = call('delete a CRM record', 'delete_crm_record', { record_id: 'CRM-1002' });
    const [bulkRequest, bookingRequest, spendRequest] = await Promise.all(['send_bulk_message', 'modify_booking', 'update_ad_spend'].map((t) => cast.pendingRequest(t)));
    await cast.pendingRequest('delete_crm_record');
    await cast.whileHeld?.();
    await cast.decide('marketing', 'approve', bulkRequest!, 'Q2 campaign, copy reviewed');
    await bulk;
    await cast.decide('frontDesk', 'deny', bookingRequest!, 'the customer asked to keep the 12th');
    await booking;
    await cast.decide('finance', 'approve', spendRequest!, 'within the Q2 budget');
    await spend;
    cast.say('nobody from data-stewards answers the CRM deletion: it is aborted when its timeout passes (timeout-to-abort)');
    await deletion;
  } finally {
    await client.close();
  }

  try {
    const admin = await connect(cast.proxyUrl, await cast.token([...agentScopes, 'full_access']));
    await admin.close();
    outcomes.push({ step: 'an agent holding a full_access token', tool: '(connect)', result: 'answered', detail: 'connected' });
  } catch (err) {
    outcomes.push({ step: 'an agent holding a full_access token', tool: '(connect)', result: 'refused', detail: (err as Error).message });
  }
  const last = outcomes.at(-1)!;
  cast.say(`${last.step}: ${last.result}: ${last.detail}`);
  return outcomes;
}
