// The parts of the tool-pinning tests: an upstream whose tool definitions the test changes
// between calls (a real v1 SDK server), the shipped McpToolPin admission policy bound to one
// namespace, a tool reviewer with the shipped ClusterRole, and one authorizer replica (its own
// router, pin store with its own watch, catalog, gate, proxy and ext_authz server).
import { readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { UpstreamToolCatalog, mcpToolLister } from '../../authorizer/src/catalog/index.ts';
import { startExtAuthzServer, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { Gate, PolicyRouter, type RefusalRecord } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { KubeToolPinStore, ToolPins } from '../../authorizer/src/pinning/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { waitFor } from '../harness/kube.ts';
import { startStatelessMcpServer, type StatelessMcpServer } from '../support/stateless-mcp-server.ts';
import { adminClient, log } from './approvals-e2e-support.ts';
import { loadPolicy } from './proxy-support.ts';

const manager = 'toolgate-tool-pinning-test';
const admission = (plural: string, name: string) => ({ group: 'admissionregistration.k8s.io', version: 'v1', plural, name });
const rbac = (plural: string, name: string, namespace?: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, name, ...(namespace ? { namespace } : {}) });
type Doc = Record<string, unknown> & { kind: string; metadata: Record<string, unknown>; spec?: Record<string, unknown> };
const configDocs = (file: string) => parseAllDocuments(readFileSync(new URL(`../../config/${file}`, import.meta.url), 'utf8')).map((d) => d.toJS() as Doc);

export interface ChangingUpstream extends StatelessMcpServer {
  /** The tools as listed now; edit them between calls. */
  tools: Array<{ name: string; description: string; inputSchema: { type: 'object'; properties?: Record<string, object> } }>;
  calls: string[];
}

/** A real MCP server (official v1 SDK, stateless Streamable HTTP) listing `tools` as they are at each request. */
export async function startChangingUpstream(tools: ChangingUpstream['tools']): Promise<ChangingUpstream> {
  const calls: string[] = [];
  const server = await startStatelessMcpServer(() => {
    const s = new Server({ name: 'changing', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: tools.map((t) => structuredClone(t)) }));
    s.setRequestHandler(CallToolRequestSchema, async (req) => {
      calls.push(req.params.name);
      return { content: [{ type: 'text', text: `called ${req.params.name}` }] };
    });
    return s;
  }, { jsonResponse: true });
  return { ...server, tools, calls };
}

/** The shipped McpToolPin admission policy, its binding restricted to `namespace`; resolves once enforced. */
export async function bindToolPinAdmission(namespace: string): Promise<() => Promise<void>> {
  const admin = adminClient();
  const [policy, binding] = configDocs('admission/tool_pin_admission.yaml');
  await admin.apply(admission('validatingadmissionpolicies', policy!.metadata.name as string), policy, manager);
  const name = `toolgate-mcptoolpins-${namespace}`;
  await admin.apply(admission('validatingadmissionpolicybindings', name), {
    ...binding, metadata: { ...binding!.metadata, name },
    spec: { ...binding!.spec, matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } },
  }, manager);
  // Enforced once a create in someone else's name is refused (a dry run: nothing is stored).
  await waitFor(async () => {
    const outcome = await admin.request('POST', `/apis/toolgate.io/v1alpha1/namespaces/${namespace}/mcptoolpins`, {
      query: { dryRun: 'All' },
      body: {
        apiVersion: 'toolgate.io/v1alpha1', kind: 'McpToolPin', metadata: { name: 'admission-probe', namespace },
        spec: { policy: 'p', server: 's', tool: 't', accepted: { hash: `sha256:${'0'.repeat(64)}`, by: 'someone-else', at: new Date().toISOString() } },
      },
    }).then(() => 'accepted', (err: unknown) => String((err as Error).message));
    if (outcome.includes('spec.accepted.by must be the user making this request')) return true;
    throw new Error(outcome);
  }, { description: `the McpToolPin admission policy to be enforced in ${namespace}`, timeoutMs: 60_000, intervalMs: 200 });
  return async () => { await admin.delete(admission('validatingadmissionpolicybindings', name)).catch(() => undefined); };
}

/** Binds the shipped toolgate-tool-reviewer ClusterRole to `group` in `namespace`. */
export async function toolReviewers(namespace: string, group: string): Promise<void> {
  const admin = adminClient();
  const role = configDocs('rbac/people_roles.yaml').find((d) => d.metadata.name === 'toolgate-tool-reviewer')!;
  await admin.apply(rbac('clusterroles', 'toolgate-tool-reviewer'), role, manager);
  await admin.apply(rbac('rolebindings', 'tool-reviewers', namespace), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'tool-reviewers', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'toolgate-tool-reviewer' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
  }, manager);
}

export interface PinningReplica {
  store: KubeToolPinStore;
  pins: ToolPins;
  catalog: UpstreamToolCatalog;
  gate: Gate;
  proxy: McpProxy;
  extAuthz: ExtAuthzServer;
  refusals: RefusalRecord[];
  close(): Promise<void>;
}

/** One authorizer replica, as startAuthorizer wires pinning: the store's watch, the catalog that pins, the gate that filters. */
export async function startPinningReplica(o: { kubeConfig: KubeConfig; policy: McpSecurityPolicy; pod: string }): Promise<PinningReplica> {
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, o.policy, 'rev-1');
  const replicaLog = log.child({ pod: o.pod });
  const store = new KubeToolPinStore({ client: new KubeClient(o.kubeConfig), log: replicaLog });
  await store.start();
  await store.synced();
  const pins = new ToolPins({ store, log: replicaLog });
  // A short refresh, so the catalog (what ext_authz decides on) sees the upstream's changes within the test.
  const catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: async () => ({}), log: replicaLog }), log: replicaLog, pins, refreshMs: 200, missRefreshMs: 200 });
  const verifier = createTokenVerifier(gateway.identity!, {});
  const refusals: RefusalRecord[] = [];
  const gate = new Gate({ router, log: replicaLog, catalog, pins, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }), onRefusal: (r) => refusals.push(r) });
  const proxy = await startMcpProxy({ gate, log: replicaLog });
  const extAuthz = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log: replicaLog, gate });
  return {
    store, pins, catalog, gate, proxy, extAuthz, refusals,
    async close() {
      await Promise.all([proxy.close(), extAuthz.close()]);
      await catalog.close();
      await store.stop();
    },
  };
}
