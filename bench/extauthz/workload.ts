// The ext_authz benchmark's requests: real MCP tools/call bodies against the decision-table
// policy (pkg/policy/engine/testdata), covering allow, deny and require_approval, each as
// the CheckRequest Envoy would send and as the equivalent OPA decision input.
import type { PolicyInput } from '../../pkg/policy/engine/index.ts';
import type { CheckRequest } from '../../authorizer/src/extauthz/index.ts';
import { envoyCheckRequest, toolsCall } from '../../test/support/extauthz.ts';
import type { CallerIdentity } from '../../authorizer/src/gate/index.ts';

export const benchCaller: CallerIdentity = {
  subject: 'alice', issuer: 'bench', agent: 'agent-1', operator: 'alice', roles: [],
  scopes: ['norg:contacts:read', 'norg:messaging:write', 'norg:messaging:bulk', 'norg:booking:write', 'norg:booking:modify'],
};

const recipients = (n: number) => Array.from({ length: n }, (_, i) => `+1555000${String(i).padStart(4, '0')}`);

/** [server, tool, arguments, expected action] */
export const calls: ReadonlyArray<readonly [string, string, Record<string, unknown>, 'allow' | 'deny' | 'require_approval']> = [
  ['gmail', 'read_email', { id: '1' }, 'allow'],
  ['gmail', 'send_email', { to: 'bob@acme.com', body: 'Quarterly numbers attached, see the summary below.' }, 'allow'],
  ['gmail', 'send_email', { to: 'eve@evil.com', body: 'hi' }, 'require_approval'],
  ['gmail', 'send_email', { to: 'bob@acme.com', body: '-----BEGIN RSA PRIVATE KEY-----\nMIIE' }, 'deny'],
  ['fetch', 'fetch', { url: 'https://example.com/docs' }, 'allow'],
  ['fetch', 'fetch', { url: 'http://169.254.169.254/latest/meta-data/iam' }, 'deny'],
  ['github', 'create_issue', { title: 'debug', body: 'key=AKIAABCDEFGHIJKLMNOP' }, 'deny'],
  ['stripe', 'create_refund', { charge: 'ch_1', amount: 5000 }, 'require_approval'],
  ['stripe', 'create_invoice', { lines: [{ amount: 100 }, { amount: 150000 }] }, 'deny'],
  ['norg', 'send_bulk_message', { recipients: recipients(51), text: 'Q2 campaign' }, 'require_approval'],
  ['norg', 'get_contacts', { query: 'smith' }, 'allow'],
  ['kubernetes', 'kubectl_apply', { context: 'prod-eu', manifest: 'apiVersion: v1\nkind: ConfigMap' }, 'require_approval'],
];

export interface BenchRequest {
  check: CheckRequest;
  input: PolicyInput;
  expected: string;
}

export function benchRequests(authorization?: string): BenchRequest[] {
  return calls.map(([server, tool, args, expected], i) => ({
    check: envoyCheckRequest({
      server, body: toolsCall(tool, args, i + 1),
      headers: { ...(authorization ? { authorization } : {}), 'mcp-session-id': 'bench-session' },
    }),
    input: { server, tool, arguments: args, caller: { agent: benchCaller.agent!, operator: benchCaller.operator!, roles: benchCaller.roles, scopes: benchCaller.scopes } },
    expected,
  }));
}
