// The Envoy ext_authz v3 front end over gRPC, driven by a client built from the same official
// Envoy protos (@grpc/grpc-js-xds deps/envoy-api) with real MCP JSON-RPC bodies. Decisions come
// from the real policy.wasm over the decision-table policy compiled as the operator compiles it;
// callers carry real jose-signed JWTs from the test issuer, verified by the identity module.
import { credentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExtAuthzServer, loadProtos, type CheckResponse, type ExtAuthzServer, type ExtAuthzServerOptions } from '../../authorizer/src/extauthz/index.ts';
import { createExtAuthzMetrics } from '../../authorizer/src/extauthz/metrics.ts';
import {
  authorizationClient, checkOnce, compileFixture, envoyCheckRequest, fixturePolicyKey, loadFixtureRouter, toolsCall, type EnvoyRequest,
} from '../support/extauthz.ts';
import { Gate, PolicyRouter, createGatewayMetrics, type GateOptions } from '../../authorizer/src/gate/index.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const allScopes = ['norg:contacts:read', 'norg:messaging:write', 'norg:messaging:bulk'];
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let issuer: TestIssuer;
let router: PolicyRouter;
let registry: Registry;
const servers: ExtAuthzServer[] = [];
let ready = true;
let main: ReturnType<typeof authorizationClient>;
let token: string;

async function start(o: Partial<Omit<ExtAuthzServerOptions, 'gate'>> & { router: PolicyRouter; gate?: Partial<GateOptions> }): Promise<ReturnType<typeof authorizationClient>> {
  const { router: r, gate: gateOptions, ...rest } = o;
  const s = await startExtAuthzServer({
    port: 0, host: '127.0.0.1', log, gate: new Gate({ router: r, log, catalog: anyNameCatalog, ready: () => ready, ...gateOptions }), ...rest,
  });
  servers.push(s);
  return authorizationClient(s.port);
}

const bearer = (t = token) => ({ authorization: `Bearer ${t}` });
const send = (r: EnvoyRequest, client = main) => checkOnce(client, envoyCheckRequest({ ...r, headers: { ...bearer(), ...r.headers } }));
const headerMap = (list: Array<{ header: { key: string; value: string } }> | undefined) => Object.fromEntries((list ?? []).map((h) => [h.header.key, h.header.value]));

function denial(res: CheckResponse) {
  expect(res.ok_response).toBeUndefined();
  const d = res.denied_response!;
  const body = JSON.parse(d.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data?: Record<string, unknown> } };
  expect(body.jsonrpc).toBe('2.0');
  const headers = headerMap(d.headers);
  expect(headers['content-type']).toBe('application/json');
  // Loaded with enums as names: HttpStatus codes come back as e.g. "Forbidden".
  return { grpc: res.status.code, http: d.status.code as unknown as string, headers, body };
}

beforeAll(async () => {
  issuer = await startJwtIssuer({ audience: 'https://gateway.example.com/mcp' });
  const data = compileFixture({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: issuer.audience });
  router = await loadFixtureRouter(data);
  registry = new Registry();
  main = await start({
    router,
    gate: { metrics: createGatewayMetrics(registry), maxBodyBytes: 4096 },
    metrics: createExtAuthzMetrics(registry),
  });
  token = await issuer.mint({ sub: 'alice', azp: 'agent-1', scope: allScopes.join(' ') });
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  await issuer?.close();
});

describe('ext_authz Check: messages that need no decision', () => {
  it('allows initialize, strips the token and names the caller to the upstream', async () => {
    const res = await send({ body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } } });
    expect(res.status.code).toBe(0);
    const ok = res.ok_response!;
    expect(headerMap(ok.headers)).toEqual({ 'x-toolgate-agent': 'agent-1', 'x-toolgate-operator': 'alice' });
    // Overwrite, never append: a client-sent x-toolgate-agent cannot survive beside ours.
    expect(ok.headers.every((h) => h.append_action === 'OVERWRITE_IF_EXISTS_OR_ADD')).toBe(true);
    expect(ok.headers_to_remove).toEqual(expect.arrayContaining(['authorization', 'x-toolgate-decision-id']));
  });

  it('allows tools/list and notifications', async () => {
    expect((await send({ body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } })).status.code).toBe(0);
    expect((await send({ body: { jsonrpc: '2.0', method: 'notifications/initialized' } })).status.code).toBe(0);
  });

  it('allows the GET stream and DELETE session after authentication, refuses other methods', async () => {
    expect((await send({ method: 'GET', headers: { 'mcp-session-id': 's-1' } })).status.code).toBe(0);
    expect((await send({ method: 'DELETE', headers: { 'mcp-session-id': 's-1' } })).status.code).toBe(0);
    const unauth = denial(await checkOnce(main, envoyCheckRequest({ method: 'GET' })));
    expect(unauth.http).toBe('Unauthorized');
    const put = denial(await send({ method: 'PUT', body: toolsCall('read_email') }));
    expect(put.http).toBe('MethodNotAllowed');
    expect(put.body.error.message).toContain('PUT');
  });
});

describe('ext_authz Check: tools/call decided by the policy', () => {
  it('allows an internal e-mail, with a decision id upstream and to the client', async () => {
    for (const packAsBytes of [false, true]) {
      const res = await send({ server: 'gmail', packAsBytes, body: toolsCall('send_email', { to: 'bob@acme.com', body: 'hi' }) });
      expect(res.status.code).toBe(0);
      const headers = headerMap(res.ok_response!.headers);
      expect(headers['x-toolgate-decision-id']).toMatch(uuid);
      expect(headerMap(res.ok_response!.response_headers_to_add)['x-toolgate-decision-id']).toBe(headers['x-toolgate-decision-id']);
      expect(res.ok_response!.headers_to_remove).toEqual(['authorization']);
    }
  });

  // A refused request is answered 200 with the JSON-RPC error, as the proxy answers it (gate/README.md).
  it('denies SSRF to the cloud metadata service with the rule and a JSON-RPC error', async () => {
    const d = denial(await send({ server: 'fetch', body: toolsCall('fetch', { url: 'http://169.254.169.254/latest/meta-data/' }, 'req-7') }));
    expect(d.grpc).toBe(7);
    expect(d.http).toBe('OK');
    expect(d.body.id).toBe('req-7');
    expect(d.body.error.code).toBe(-31001);
    expect(d.body.error.message).toContain('Block SSRF to cloud metadata');
    expect(d.body.error.data).toMatchObject({ rule: 'Block SSRF to cloud metadata', revision: 'rev-1' });
    expect(d.headers['x-toolgate-decision-id']).toBe(d.body.error.data!.decisionId);
  });

  it('holds external e-mail for approval and says who must approve', async () => {
    const d = denial(await send({ server: 'gmail', body: toolsCall('send_email', { to: 'eve@evil.com', body: 'hi' }, 9) }));
    expect(d.grpc).toBe(7);
    expect(d.http).toBe('OK');
    expect(d.body.error.code).toBe(-31002);
    expect(d.body.error.data).toMatchObject({ rule: 'Approve external communication', approvers: ['manager'], quorum: 1, timeout: '60m' });
    expect(d.body.error.data!.decisionId).toMatch(uuid);
  });

  it('answers a missing scope with 403 insufficient_scope naming the scope', async () => {
    const narrow = await issuer.mint({ sub: 'alice', azp: 'agent-1', scope: 'norg:contacts:read' });
    const d = denial(await send({ server: 'norg', headers: bearer(narrow), body: toolsCall('send_message', { to: '+15550000000', text: 'x' }) }));
    expect(d.http).toBe('Forbidden');
    expect(d.body.error.code).toBe(-31004);
    expect(d.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(d.headers['www-authenticate']).toContain('scope="norg:messaging:write"');
  });

  it('refuses unknown methods, malformed JSON and batches before any decision', async () => {
    const unknown = denial(await send({ body: { jsonrpc: '2.0', id: 3, method: 'sampling/createMessage', params: {} } }));
    expect([unknown.http, unknown.body.error.code, unknown.body.id]).toEqual(['OK', -32601, 3]);
    const malformed = denial(await send({ body: '{"jsonrpc":"2.0","id":4,"method":' }));
    expect([malformed.http, malformed.body.error.code]).toEqual(['BadRequest', -32700]);
    const batch = denial(await send({ body: [toolsCall('read_email'), toolsCall('delete_email')] }));
    expect([batch.http, batch.body.error.code]).toEqual(['BadRequest', -32600]);
    expect(batch.body.error.message).toContain('batches');
  });

  it('refuses oversized and truncated bodies (fail closed)', async () => {
    const big = denial(await send({ body: toolsCall('send_email', { to: 'bob@acme.com', body: 'x'.repeat(5000) }) }));
    expect([big.grpc, big.http]).toEqual([7, 'PayloadTooLarge']);
    expect(big.body.error.message).toContain('larger than 4096 bytes');
    const cut = denial(await send({ partial: true, body: toolsCall('read_email', { id: '1' }) }));
    expect(cut.http).toBe('PayloadTooLarge');
    expect(cut.body.error.message).toContain('truncated');
  });

  it('takes the server from x-toolgate-server when configured to trust it and the route sets none, and refuses when neither names one', async () => {
    const trusting = await start({ router, trustServerHeader: true });
    const viaHeader = await send({ server: null, headers: { 'x-toolgate-server': 'fetch' }, body: toolsCall('fetch', { url: 'http://169.254.169.254/' }) }, trusting);
    expect(denial(viaHeader).body.error.data).toMatchObject({ rule: 'Block SSRF to cloud metadata' });
    const none = denial(await send({ server: null, body: toolsCall('read_email') }));
    expect([none.grpc, none.http]).toEqual([9, 'InternalServerError']);
    expect(none.body.error.message).toContain('context_extensions["toolgate-server"]');
    // A route to a server no policy governs is decided (denied) as the proxy decides it.
    const unknown = denial(await send({ server: 'nope', body: toolsCall('x') }));
    expect([unknown.http, unknown.body.error.code, unknown.body.error.data?.rule]).toEqual(['OK', -31001, 'toolgate:unknown-server']);
  });
});

describe('ext_authz Check: callers', () => {
  it('answers a missing token with 401 and the RFC 9728 metadata URL', async () => {
    const d = denial(await checkOnce(main, envoyCheckRequest({ body: toolsCall('read_email') })));
    expect([d.grpc, d.http]).toEqual([16, 'Unauthorized']);
    expect(d.headers['www-authenticate']).toBe('Bearer resource_metadata="https://gateway.example.com/.well-known/oauth-protected-resource/mcp"');
  });

  it('answers a tampered token with invalid_token, never echoing the token', async () => {
    const forged = await issuer.hostile.tampered({ sub: 'alice', azp: 'agent-1' });
    const d = denial(await send({ headers: bearer(forged), body: toolsCall('read_email') }));
    expect(d.http).toBe('Unauthorized');
    expect(d.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(d.body.error.message).not.toContain(forged.split('.')[1]!);
  });

  it('percent-encodes claim values that would break a header', async () => {
    const odd = await issuer.mint({ sub: 'alice', azp: 'agent\r\nx-evil: 1 é' });
    const res = await send({ headers: bearer(odd), body: { jsonrpc: '2.0', id: 1, method: 'ping' } });
    expect(headerMap(res.ok_response!.headers)['x-toolgate-agent']).toBe('agent%0D%0Ax-evil: 1 %C3%A9');
  });

  it('counts every Check outcome in the metrics', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/toolgate_extauthz_checks_total\{outcome="deny",http_status="403"\} [1-9]/);
    expect(text).toMatch(/toolgate_extauthz_checks_total\{outcome="unauthenticated",http_status="401"\} [1-9]/);
    expect(text).toMatch(/toolgate_authorizer_decisions_total\{front_end="ext_authz",action="allow"/);
  });
});

describe('ext_authz: availability and options', () => {
  it('refuses as unavailable (503) until the policies are loaded', async () => {
    ready = false;
    try {
      const d = denial(await send({ body: toolsCall('read_email') }));
      expect([d.grpc, d.http, d.body.error.code]).toEqual([14, 'ServiceUnavailable', -31003]);
    } finally {
      ready = true;
    }
    // A policy the router knows but has not loaded yet: its servers are unavailable, not unknown.
    const pending = new PolicyRouter();
    pending.entry(fixturePolicyKey);
    const client = await start({ router: pending });
    const d = denial(await send({ body: toolsCall('read_email') }, client));
    expect([d.grpc, d.http, d.body.error.code]).toEqual([14, 'ServiceUnavailable', -31003]);
  });

  it('ignores the x-toolgate-server header by default and when configured to trust only the route (a client could name its own server)', async () => {
    for (const client of [main, await start({ router, trustServerHeader: false })]) {
      const d = denial(await send({ server: null, headers: { 'x-toolgate-server': 'gmail' }, body: toolsCall('read_email', { id: '1' }) }, client));
      expect(d.http).toBe('InternalServerError');
      expect(d.body.error.message).toContain('context_extensions["toolgate-server"]');
      expect((await send({ server: 'gmail', body: toolsCall('read_email', { id: '1' }) }, client)).status.code).toBe(0);
    }
  });

  it('passes the token through only when configured to', async () => {
    const client = await start({ router, passAuthorization: true });
    const res = await send({ body: toolsCall('read_email', { id: '1' }) }, client);
    expect(res.status.code).toBe(0);
    expect(res.ok_response!.headers_to_remove ?? []).not.toContain('authorization');
    expect(headerMap(res.ok_response!.headers)['x-toolgate-decision-id']).toMatch(uuid);
  });

  it('reports health: SERVING only when ready, NOT_FOUND for unknown services, Watch follows changes', async () => {
    const { HealthClient } = loadProtos();
    const health = new HealthClient(`127.0.0.1:${servers[0]!.port}`, credentials.createInsecure()) as never as {
      Check(req: object, cb: (err: (Error & { code?: number }) | null, res?: { status: string }) => void): void;
      Watch(req: object): NodeJS.EventEmitter & { cancel(): void };
    };
    const check = (service: string) => new Promise<{ status?: string; code?: number }>((resolve) => health.Check({ service }, (err, res) => resolve(err ? { code: err.code } : { status: res!.status })));
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('envoy.service.auth.v3.Authorization')).toEqual({ status: 'SERVING' });
    expect(await check('nope')).toEqual({ code: 5 });
    const seen: string[] = [];
    const stream = health.Watch({ service: '' });
    const notServing = new Promise<void>((resolve) => stream.on('data', (m: { status: string }) => {
      seen.push(m.status);
      if (m.status === 'NOT_SERVING') resolve();
    }));
    stream.on('error', () => {});
    await new Promise((r) => setTimeout(r, 100));
    ready = false;
    try {
      await notServing;
      expect(await check('')).toEqual({ status: 'NOT_SERVING' });
    } finally {
      ready = true;
      stream.cancel();
    }
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
  });
});

// Regression (issue 10, HTTP and token edges): each was let through or mis-built before — GET
// and DELETE returned OK before the body was looked at, "false,true" was read as not truncated
// (only the exact value "true" counted). Checked against the old code path in check.ts/request.ts.
describe('ext_authz Check: HTTP edges', () => {
  it('refuses a GET or DELETE that carries a body instead of letting it through undecided', async () => {
    for (const method of ['GET', 'DELETE']) {
      const d = denial(await send({ method, headers: { 'mcp-session-id': 's-1' }, body: toolsCall('delete_email', { id: '1' }) }));
      expect(d.http, method).toBe('BadRequest');
      expect(d.body.error.message).toContain(`HTTP ${method} must not carry a body`);
    }
  });

  it('treats any truncation marker as truncated, a repeated header joined as "false,true" included', async () => {
    for (const marker of ['false,true', 'true, false', 'TRUE']) {
      const d = denial(await send({ server: 'gmail', headers: { 'x-envoy-auth-partial-body': marker }, body: toolsCall('read_email', { id: '1' }) }));
      expect(d.http, marker).toBe('PayloadTooLarge');
    }
    expect((await send({ server: 'gmail', headers: { 'x-envoy-auth-partial-body': 'false' }, body: toolsCall('read_email', { id: '1' }) })).status.code).toBe(0);
  });

  it('builds resource_metadata from configuration only, whatever :authority the client sent', async () => {
    const d = denial(await checkOnce(main, envoyCheckRequest({ headers: { ':authority': 'evil.example', host: 'evil.example' }, body: toolsCall('read_email') })));
    expect(d.http).toBe('Unauthorized');
    expect(d.headers['www-authenticate']).toContain('resource_metadata="https://gateway.example.com/.well-known/oauth-protected-resource/mcp"');
    expect(d.headers['www-authenticate']).not.toContain('evil.example');
  });

  it('refuses two Authorization headers (Envoy joins them) as a malformed request', async () => {
    const forged = await issuer.hostile.tampered({ sub: 'alice', azp: 'agent-1' });
    const d = denial(await checkOnce(main, envoyCheckRequest({ headers: { authorization: `Bearer ${token},Bearer ${forged}` }, body: toolsCall('read_email') })));
    expect(d.http).toBe('BadRequest');
    expect(d.headers['www-authenticate']).toContain('invalid_request');
  });
});
