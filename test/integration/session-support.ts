// Real parts for the session-policy tests: the reference "everything" MCP server, the policy
// compiled into the real wasm, authorizer replicas (gate + UpstreamToolCatalog + MCP proxy or
// ext_authz gRPC server) whose taint lives in McpSessionTaint objects of the real API server,
// written as the authorizer's service account with exactly the RBAC the authorizer needs.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { UpstreamToolCatalog, mcpToolLister } from '../../authorizer/src/catalog/index.ts';
import { startExtAuthzServer, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { KubeTaintStore, SessionState } from '../../authorizer/src/session/index.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { serviceAccountKubeConfig } from '../harness/accounts.ts';
import type { TestIssuer } from '../harness/jwt-issuer.ts';
import { controlPlane } from '../harness/kube.ts';
import { audience, loadPolicy } from './proxy-support.ts';

export const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
export const systemNamespace = 'toolgate-system';
const manager = 'toolgate-session-tests';

export function adminClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(controlPlane().adminKubeconfig);
  return new KubeClient(kc);
}

/**
 * The Role the authorizer needs for taint in its own namespace (what the chart must grant):
 * read one key's object, create and replace it, and list and delete lapsed ones. Nothing else.
 */
export const taintRole = {
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role',
  metadata: { name: 'toolgate-authorizer-session-taint', namespace: systemNamespace },
  rules: [{ apiGroups: ['toolgate.io'], resources: ['mcpsessiontaints'], verbs: ['get', 'list', 'create', 'update', 'delete'] }],
};

const rbac = (plural: string, name: string, namespace?: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, name, ...(namespace ? { namespace } : {}) });

/** The authorizer's service account, holding the taint Role only, as a KubeConfig. */
export async function authorizerIdentity(admin = adminClient()): Promise<KubeConfig> {
  await admin.apply({ group: '', version: 'v1', plural: 'namespaces', name: systemNamespace }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: systemNamespace } }, manager);
  await admin.apply(rbac('roles', taintRole.metadata.name, systemNamespace), taintRole, manager);
  await admin.apply(rbac('rolebindings', taintRole.metadata.name, systemNamespace), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: taintRole.metadata.name, namespace: systemNamespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: taintRole.metadata.name },
    subjects: [{ kind: 'ServiceAccount', name: 'toolgate-authorizer', namespace: systemNamespace }],
  }, manager);
  return await serviceAccountKubeConfig(admin, controlPlane(), systemNamespace, 'toolgate-authorizer');
}

/**
 * everything's get-env reads confidential data, echo sends outside: the flow rule forbids the
 * second after the first; get-sum is limited to 3 calls per 2 s per session and tool.
 */
export function sessionPolicy(upstream: string, issuer: TestIssuer, name: string): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'team-a', name },
    spec: {
      servers: [{ name: 'everything', url: upstream }],
      profiles: [{ name: 'everything' }],
      toolOverrides: [
        { server: 'everything', tool: 'get-env', labels: ['data:confidential'] },
        { server: 'everything', tool: 'echo', labels: ['scope:external'] },
      ],
      policies: [{ name: 'allow-all', priority: 100, when: {}, action: 'allow' }],
      session: {
        limits: [{ name: 'sum-burst', when: { tools: ['get-sum'] }, perTool: true, max: 3, window: '2s', action: 'deny' }],
        flows: [{ name: 'no-exfiltration', from: ['data:confidential'], to: { labels: ['scope:external'] }, action: 'deny' }],
        taintTTL: '10m',
      },
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

export interface SessionReplica {
  policy: McpSecurityPolicy;
  gate: Gate;
  taint: KubeTaintStore;
  proxy: McpProxy;
  extAuthz: ExtAuthzServer;
  close(): Promise<void>;
}

/** One authorizer replica: its own router, catalog, counters and taint cache; the shared API server. */
export async function startSessionReplica(policy: McpSecurityPolicy, kubeConfig: KubeConfig): Promise<SessionReplica> {
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy, 'rev-1');
  const verifier = createTokenVerifier(gateway.identity!, {});
  const catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: async () => ({}), log }), log });
  const taint = new KubeTaintStore({ client: new KubeClient(kubeConfig), namespace: systemNamespace, log });
  const gate = new Gate({
    router, log, catalog, session: new SessionState({ taint }),
    authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
  });
  const proxy = await startMcpProxy({ gate, log });
  const extAuthz = await startExtAuthzServer({ port: 0, host: '127.0.0.1', gate, log });
  return {
    policy, gate, taint, proxy, extAuthz,
    async close() {
      await Promise.all([proxy.close(), extAuthz.close()]);
      await catalog.close();
    },
  };
}
