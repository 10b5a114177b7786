// toolgate in front of one MCP server with a policy that allows everything, as a new user would
// first deploy it: the real gate (identity, policy compiled by the operator's compiler into the
// real wasm, the upstream tool catalog) and the real MCP proxy, with the bearer forwarder standing
// in for the agent's credential sidecar. With such a policy a client must not be able to tell
// toolgate from the server behind it (issue 11); the conformance and inspector-cli tests measure that.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { UpstreamToolCatalog, mcpToolLister } from '../../../authorizer/src/catalog/index.ts';
import { Gate, PolicyRouter } from '../../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../../authorizer/src/proxy/index.ts';
import { compilePolicy } from '../../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../../pkg/policy/engine/policy-wasm.ts';
import { freePort } from '../../harness/accounts.ts';
import { startJwtIssuer, type TestIssuer } from '../../harness/jwt-issuer.ts';
import { startBearerForwarder, type BearerForwarder } from '../bearer-forwarder.ts';

export const audience = 'https://toolgate.test/mcp';
/** The governed server's name in the policy. */
export const serverName = 'reference';

export function allowAllPolicy(upstreamUrl: string, issuer: TestIssuer): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'conformance', name: 'allow-all' },
    spec: {
      servers: [{ name: serverName, url: upstreamUrl }],
      defaultAction: 'allow',
      policies: [{ name: 'allow-all', priority: 10, when: {}, action: 'allow' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

export interface ToolgateInFront {
  /** The MCP endpoint a client without credentials uses: the forwarder, which adds the agent's token. */
  url: string;
  /** toolgate's own endpoint; callers must bring a token. */
  proxyUrl: string;
  token(): Promise<string>;
  proxy: McpProxy;
  close(): Promise<void>;
}

export async function startToolgateInFront(upstreamUrl: string): Promise<ToolgateInFront> {
  const issuer = await startJwtIssuer({ audience });
  const token = () => issuer.mint({ sub: 'conformance-operator', azp: 'conformance-agent' });
  const forwarder: BearerForwarder = await startBearerForwarder(token);
  const policy = allowAllPolicy(upstreamUrl, issuer);
  const { data, problems } = compilePolicy(policy, new Map());
  if (!data) throw new Error(`allow-all policy does not compile: ${JSON.stringify(problems)}`);
  const router = new PolicyRouter();
  const key = `${policy.metadata.namespace}/${policy.metadata.name}`;
  await router.entry(key).engine.load(readFileSync(ensurePolicyWasm()), data, 'rev-1');
  router.update(key, { gateway: data.toolgate.gateway, data });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const verifier = createTokenVerifier(data.toolgate.gateway.identity!, {});
  const catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: async () => ({}), log }), log });
  const gate = new Gate({
    router, log, catalog,
    authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
    resourceMetadataUrl: 'https://toolgate.test/.well-known/oauth-protected-resource/mcp',
  });
  // As a production deployment: only the names clients address toolgate by are valid Hosts (the
  // sidecar's loopback address, and toolgate's own for clients that bring their token), and only
  // those origins may call from a browser.
  const front = new URL(forwarder.origin);
  const port = await freePort();
  const proxy = await startMcpProxy({
    gate, log, host: '127.0.0.1', port,
    allowedHosts: [front.host, `localhost:${front.port}`, `127.0.0.1:${port}`, `localhost:${port}`],
    allowedOrigins: [forwarder.origin, `http://localhost:${front.port}`, `http://127.0.0.1:${port}`, `http://localhost:${port}`],
  });
  forwarder.target = new URL(proxy.url);
  return {
    url: `${forwarder.origin}${new URL(proxy.url).pathname}`,
    proxyUrl: proxy.url,
    token,
    proxy,
    async close() {
      await forwarder.close();
      await proxy.close();
      await catalog.close();
      await issuer.close();
    },
  };
}
