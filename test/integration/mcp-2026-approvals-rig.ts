// What the 2026-07-28 approval tests share whatever front end they drive: the real API server's
// identities, an approver (ann, group sre), the shipped admission policy, the operator, a JWT
// issuer, a real 2026-07-28 server with one `deploy` tool held by a require_approval rule, and
// the one Gate (approval coordinator, real catalog, token verifier) the front end is put before.
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { ApprovalCoordinator, approvalPolicy as policyView } from '../../authorizer/src/approvals/index.ts';
import { UpstreamToolCatalog } from '../../authorizer/src/catalog/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { modernToolLister } from '../../authorizer/src/proxy/stateless/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { startMcp2026Server, type Mcp2026Server } from '../fixtures/mcp-2026/server.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { approver, approverRbac, bindAdmission, identities, log, startTestOperator, type Approver } from './approvals-e2e-support.ts';
import { audience, loadPolicy } from './proxy-support.ts';

export const version = '2026-07-28';
export const caps = { elicitation: { url: {} } };
export const meta = { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': caps };

export interface Mcp2026ApprovalRig {
  gate: Gate;
  upstream: Mcp2026Server;
  issuer: TestIssuer;
  ann: Approver;
  /** How many times `deploy` with exactly these arguments reached the server. */
  deploys(args: Record<string, unknown>): number;
  /** One raw 2026-07-28 tools/call of `deploy` POSTed to url. */
  rawCall(url: string, token: string, args: Record<string, unknown>, extra?: Record<string, unknown>): Promise<{ status: number; body: { result?: Record<string, unknown>; error?: { code: number; message: string } } }>;
  close(): Promise<void>;
}

function policy(ns: string, issuer: TestIssuer, url: string): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: ns, name: 'agents' },
    spec: {
      servers: [{ name: 'fixture', url }],
      policies: [{ name: 'deploy-needs-sre', priority: 10, when: { tools: ['deploy'] }, action: 'require_approval', approvers: ['sre'], timeout: '10m' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

/** `pod`: the name the coordinator consumes approvals as (one per test file). */
export async function startMcp2026ApprovalRig(ns: string, pod: string): Promise<Mcp2026ApprovalRig> {
  const ids = await identities(ns);
  await approverRbac(ns, ['sre']);
  const ann = await approver('ann', ['sre']);
  const unbind = await bindAdmission(ns);
  const operator = await startTestOperator(ids.operator, ns);
  const issuer = await startJwtIssuer({ audience });
  const upstream = await startMcp2026Server([{ name: 'deploy' }]);
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy(ns, issuer, upstream.url), 'rev-1');
  const coordinator = new ApprovalCoordinator({ client: new KubeClient(ids.authorizer), pod, log, registry: new Registry(), policy: policyView(router, (call) => gate.decisionPath.decide(call)) });
  await coordinator.start();
  const verifier = createTokenVerifier(gateway.identity!, {});
  const catalog = new UpstreamToolCatalog({ router, lister: modernToolLister({ headers: async () => ({}), log }), log });
  const gate: Gate = new Gate({ router, log, catalog, approvals: coordinator, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  return {
    gate, upstream, issuer, ann,
    deploys: (args) => upstream.calls().filter((c) => c.name === 'deploy' && JSON.stringify(c.arguments) === JSON.stringify(args)).length,
    async rawCall(url, token, args, extra = {}) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, 'mcp-method': 'tools/call', 'mcp-name': 'deploy' },
        body: JSON.stringify({ jsonrpc: '2.0', id: randomUUID(), method: 'tools/call', params: { name: 'deploy', arguments: args, _meta: meta, ...extra } }),
      });
      return { status: res.status, body: await res.json() as never };
    },
    async close() {
      await catalog.close();
      await coordinator.stop();
      await operator.stop();
      await unbind();
      await upstream.close();
      await issuer.close();
    },
  };
}
