// Real peers for the MCP proxy tests: the reference "everything" MCP server from npm in its
// Streamable HTTP mode (one process per upstream), a policy compiled by the operator's compiler
// into the real wasm, caller tokens from the test JWT issuer verified by the identity module,
// and the official SDK client. Nothing here imitates an MCP server.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { parse } from 'yaml';
import type { McpProfile, McpSecurityPolicy, McpSecurityPolicySpec } from '../../api/v1alpha1/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { UpstreamToolCatalog, mcpToolLister } from '../../authorizer/src/catalog/index.ts';
import { Gate, PolicyRouter, type GateOptions, type GatewayConfig } from '../../authorizer/src/gate/index.ts';
import { policyWorkerPoolFor } from '../../pkg/policy/pool/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy, type McpProxyOptions } from '../../authorizer/src/proxy/index.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { freePort } from '../harness/accounts.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';

const require = createRequire(import.meta.url);
export const audience = 'https://toolgate.test/mcp';

export interface EverythingServer {
  url: string;
  close(): Promise<void>;
}

/** The reference server over Streamable HTTP, on a port it reports once listening. */
export async function startEverything(): Promise<EverythingServer> {
  const pkgJson = require.resolve('@modelcontextprotocol/server-everything/package.json');
  const bin = join(dirname(pkgJson), (JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin: Record<string, string> }).bin['mcp-server-everything']!);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [bin, 'streamableHttp'], { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on port')) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server-everything exited with ${code}: ${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}

export interface UpstreamTap {
  url: string;
  /** Headers of every request the upstream received. */
  seen: IncomingHttpHeaders[];
  /** Every tools/call the upstream received. */
  calls: Array<{ name: string; arguments: Record<string, unknown> }>;
  /** The raw text of every request body the upstream received, parsable or not. */
  bodies: string[];
  close(): Promise<void>;
}

/** A pass-through in front of an upstream that records what reached it: headers and tools/calls. */
export async function startUpstreamTap(target: string): Promise<UpstreamTap> {
  const t = new URL(target);
  const seen: IncomingHttpHeaders[] = [];
  const calls: UpstreamTap['calls'] = [];
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length > 0) bodies.push(body.toString('utf8'));
      try {
        const msg = JSON.parse(body.toString('utf8')) as { method?: string; params?: { name: string; arguments?: Record<string, unknown> } };
        if (msg.method === 'tools/call' && msg.params) calls.push({ name: msg.params.name, arguments: msg.params.arguments ?? {} });
      } catch {
        // not a JSON body (GET, DELETE)
      }
      const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${t.pathname}`,
    seen,
    calls,
    bodies,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export function everythingProfile(): McpProfile {
  return parse(readFileSync(fileURLToPath(new URL('../../profiles/everything.yaml', import.meta.url)), 'utf8')) as McpProfile;
}

/** The test policy: two governed copies of the server, read-only tools allowed, some denied or held. */
export function testPolicy(urls: { everything: string; mirror: string }, issuer: TestIssuer, extra: Partial<McpSecurityPolicySpec> = {}): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'team-a', name: 'agents' },
    spec: {
      servers: [{ name: 'everything', url: urls.everything }, { name: 'mirror', url: urls.mirror }],
      profiles: [{ name: 'everything' }, { name: 'everything', server: 'mirror' }],
      toolOverrides: [{ server: 'mirror', tool: 'get-sum', scopes: ['math:sum'] }],
      policies: [
        { name: 'no-secrets', priority: 10, when: { labels: ['data:secret'] }, action: 'deny' },
        { name: 'images-need-approval', priority: 20, when: { tools: ['get-tiny-image'] }, action: 'require_approval', approvers: ['sre', 'security'] },
        { name: 'sampling-allowed', priority: 30, when: { tools: ['trigger-sampling-request'] }, action: 'allow' },
        { name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' },
      ],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
      ...extra,
    },
  };
}

/** Compiles the policy and loads it into a router, as the bundle client does with a bundle. */
export async function loadPolicy(router: PolicyRouter, policy: McpSecurityPolicy, revision: string): Promise<GatewayConfig> {
  const profiles = new Map([['everything', everythingProfile()]]);
  const { data, problems } = compilePolicy(policy, profiles);
  if (!data) throw new Error(`policy does not compile: ${JSON.stringify(problems)}`);
  const key = `${policy.metadata.namespace}/${policy.metadata.name}`;
  await router.entry(key).engine.load(readFileSync(ensurePolicyWasm()), data, revision);
  router.update(key, { gateway: data.toolgate.gateway, data });
  return data.toolgate.gateway;
}

export interface Rig {
  issuer: TestIssuer;
  everything: EverythingServer;
  mirror: EverythingServer;
  tap: UpstreamTap;
  router: PolicyRouter;
  gate: Gate;
  catalog: UpstreamToolCatalog;
  proxy: McpProxy;
  token(claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** Issuer, two upstream servers (the mirror behind a header tap), compiled policy, the gate with its tool catalog, proxy. */
export async function startRig(proxyOptions: Partial<McpProxyOptions> = {}, gateOptions: Partial<GateOptions> = {}): Promise<Rig> {
  const issuer = await startJwtIssuer({ audience });
  const [everything, mirror] = await Promise.all([startEverything(), startEverything()]);
  const tap = await startUpstreamTap(mirror.url);
  // TOOLGATE_TEST_WORKERS=N: the same rig deciding on N policy worker threads (pkg/policy/pool).
  const workers = Number(process.env.TOOLGATE_TEST_WORKERS ?? 0);
  const pool = policyWorkerPoolFor(workers);
  const router = new PolicyRouter(pool ? { pool } : {});
  const gateway = await loadPolicy(router, testPolicy({ everything: everything.url, mirror: tap.url }, issuer), 'rev-1');
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const verifier = createTokenVerifier(gateway.identity!, {});
  const upstreamHeaders = async (server: { name: string }): Promise<Record<string, string>> => (server.name === 'mirror' ? { authorization: 'Bearer upstream-credential-for-mirror' } : {});
  const catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: upstreamHeaders, log }), log });
  const gate = new Gate({
    router, log, catalog,
    authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
    resourceMetadataUrl: 'https://toolgate.test/.well-known/oauth-protected-resource/mcp',
    ...gateOptions,
  });
  const proxy = await startMcpProxy({
    gate,
    upstreamHeaders,
    allowedOrigins: ['http://localhost:6274'],
    log,
    ...proxyOptions,
  });
  return {
    issuer, everything, mirror, tap, router, gate, catalog, proxy,
    token: (claims = {}) => issuer.mint({ sub: 'alice', azp: 'agent-1', ...claims }),
    async close() {
      await proxy.close();
      await catalog.close();
      await Promise.all([everything.close(), mirror.close(), tap.close(), issuer.close()]);
      await pool?.close();
    },
  };
}

export const fullCapabilities = {
  roots: { listChanged: true },
  sampling: {},
} as ClientCapabilities;

/** An SDK client connected through the proxy with a bearer token. */
export async function connectClient(url: string, token: string, capabilities: ClientCapabilities = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'proxy-test', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return { client, transport };
}

/** A raw POST to the proxy, for what the SDK client will not send. */
export async function rawPost(url: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}


export interface AllowAllProxy {
  issuer: TestIssuer;
  proxy: McpProxy;
  token(): Promise<string>;
  close(): Promise<void>;
}

/** The proxy in front of `servers` under a policy that allows everything (the everything profile applied to a server named "everything"). */
export async function startAllowAllProxy(servers: ReadonlyArray<{ name: string; url: string }>, proxyOptions: Partial<McpProxyOptions> = {}): Promise<AllowAllProxy> {
  const issuer = await startJwtIssuer({ audience });
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'team-a', name: 'allow-all' },
    spec: {
      servers: servers.map((s) => ({ ...s })),
      ...(servers.some((s) => s.name === 'everything') ? { profiles: [{ name: 'everything' }] } : {}),
      // A rule without kinds governs tools only: resources, prompts (completion decides as their
      // read) and logging need a rule that names them.
      policies: [
        { name: 'allow-all', priority: 100, when: {}, action: 'allow' },
        { name: 'allow-all-else', priority: 100, when: { kinds: ['resource', 'prompt', 'logging'] }, action: 'allow' },
      ],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy, 'rev-1');
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const verifier = createTokenVerifier(gateway.identity!, {});
  const catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers: async () => ({}), log }), log });
  const gate = new Gate({ router, log, catalog, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }) });
  // Listings filtered per caller by the gate, as the authorizer wires them.
  const listingFilters = {
    resources: gate.visibleResources.bind(gate), resourceTemplates: gate.visibleResourceTemplates.bind(gate), prompts: gate.visiblePrompts.bind(gate),
  } as McpProxyOptions['listingFilters'];
  const proxy = await startMcpProxy({ gate, log, listingFilters, ...proxyOptions });
  return {
    issuer, proxy,
    token: () => issuer.mint({ sub: 'alice', azp: 'agent-1' }),
    async close() {
      await proxy.close();
      await catalog.close();
      await issuer.close();
    },
  };
}

export interface FrontedServer extends AllowAllProxy {
  everything: EverythingServer;
}

/** One "everything" server behind the proxy under a policy that allows everything: the proxy fronts it as itself. */
export async function startFrontedEverything(proxyOptions: Partial<McpProxyOptions> = {}): Promise<FrontedServer> {
  const everything = await startEverything();
  const front = await startAllowAllProxy([{ name: 'everything', url: everything.url }], proxyOptions);
  return {
    ...front, everything,
    async close() {
      await front.close();
      await everything.close();
    },
  };
}
