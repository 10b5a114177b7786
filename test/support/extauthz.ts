// Shared by the ext_authz integration test and benchmark: the decision-table policy compiled
// the way the operator compiles it and loaded into a PolicyRouter, CheckRequests shaped the way
// Envoy sends them, and a gRPC client built from the same official protos as the server.
import { readFileSync } from 'node:fs';
import { credentials, type Client } from '@grpc/grpc-js';
import type { Identity } from '../../api/v1alpha1/index.ts';
import { compilePolicy, type CompiledData } from '../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../pkg/policy/engine/policy-wasm.ts';
import { fixturePolicy, fixtureProfiles } from '../../pkg/policy/engine/testdata/load.ts';
import { PolicyRouter } from '../../authorizer/src/gate/policy-router.ts';
import { loadProtos } from '../../authorizer/src/extauthz/protos.ts';
import { partialBodyHeader, serverContextKey, type CheckRequest } from '../../authorizer/src/extauthz/request.ts';
import type { CheckResponse } from '../../authorizer/src/extauthz/response.ts';

export const fixturePolicyKey = 'agents/acme';

/** The decision-table policy (pkg/policy/engine/testdata), with its identity pointed elsewhere when asked. */
export function compileFixture(identity?: Partial<Identity>): CompiledData {
  const policy = fixturePolicy();
  if (identity) policy.spec.identity = { ...policy.spec.identity!, ...identity };
  const { data, problems } = compilePolicy(policy, fixtureProfiles());
  if (!data) throw new Error(`fixture policy does not compile: ${JSON.stringify(problems)}`);
  return data;
}

/** A router holding the fixture policy at `revision`, evaluated by the real policy.wasm. */
export async function loadFixtureRouter(data: CompiledData, revision = 'rev-1', router = new PolicyRouter()): Promise<PolicyRouter> {
  const entry = router.entry(fixturePolicyKey);
  await entry.engine.load(readFileSync(ensurePolicyWasm()), data, revision);
  router.update(fixturePolicyKey, { gateway: data.toolgate.gateway, data });
  return router;
}

export interface EnvoyRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** A JSON-RPC message (serialised here) or the raw body text. */
  body?: unknown;
  /** context_extensions["toolgate-server"]; null leaves it out. */
  server?: string | null;
  /** with_request_body.pack_as_bytes: the body travels in raw_body. */
  packAsBytes?: boolean;
  /** Envoy cut the body at max_request_bytes (allow_partial_message: true). */
  partial?: boolean;
}

/** A CheckRequest as Envoy's ext_authz filter builds it (pseudo-headers included, lower-case keys). */
export function envoyCheckRequest(r: EnvoyRequest): CheckRequest {
  const method = r.method ?? 'POST';
  const path = r.path ?? '/mcp';
  const text = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  const bytes = Buffer.from(text, 'utf8');
  const headers: Record<string, string> = {
    ':method': method, ':path': path, ':authority': 'gateway.example.com', ':scheme': 'https',
    'content-type': 'application/json', accept: 'application/json, text/event-stream',
    ...(r.partial ? { [partialBodyHeader]: 'true' } : {}),
    ...r.headers,
  };
  return {
    attributes: {
      request: {
        http: {
          id: '1234567890', method, path, host: 'gateway.example.com', scheme: 'https', protocol: 'HTTP/1.1', headers,
          size: String(r.partial ? bytes.length * 2 : bytes.length),
          ...(r.packAsBytes ? { raw_body: bytes } : { body: text }),
        },
      },
      ...(r.server === null ? {} : { context_extensions: { [serverContextKey]: r.server ?? 'gmail' } }),
    },
  };
}

export const toolsCall = (name: string, args: Record<string, unknown> = {}, id: number | string = 1) => ({
  jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args },
});

export function authorizationClient(port: number): Client & { Check: (req: unknown, cb: (err: Error | null, res?: CheckResponse) => void) => void } {
  const { AuthorizationClient } = loadProtos();
  return new AuthorizationClient(`127.0.0.1:${port}`, credentials.createInsecure()) as never;
}

export function checkOnce(client: ReturnType<typeof authorizationClient>, req: CheckRequest): Promise<CheckResponse> {
  return new Promise((resolve, reject) => client.Check(req, (err, res) => (err ? reject(err) : resolve(res!))));
}
