// The proxy's Streamable HTTP rules, checked with raw HTTP where the SDK client would never
// misbehave (Origin, Accept, versions, sessions, sizes, tokens), and the GET stream with the
// SDK client against the real "everything" servers.
import { ListRootsRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { startMcpProxy } from '../../authorizer/src/proxy/index.ts';
import { connectClient, rawPost, startRig, type Rig } from './proxy-support.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';

let rig: Rig;
let token: string;

beforeAll(async () => {
  rig = await startRig();
  token = await rig.token();
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

const initialize = (protocolVersion = '2025-11-25') => ({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

async function rawSession(bearer = token, protocolVersion = '2025-11-25'): Promise<{ id: string; headers: Record<string, string> }> {
  const res = await rawPost(rig.proxy.url, initialize(protocolVersion), { authorization: `Bearer ${bearer}` });
  expect(res.status).toBe(200);
  const id = res.headers.get('mcp-session-id')!;
  const headers = { authorization: `Bearer ${bearer}`, 'mcp-session-id': id, 'mcp-protocol-version': protocolVersion };
  expect((await rawPost(rig.proxy.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
  return { id, headers };
}

const errorOf = async (res: Response) => ((await res.json()) as { id: unknown; error: { code: number; message: string; data?: Record<string, unknown> } });

/** Raw HTTP/1.1 where fetch cannot go: repeated header lines, a body on GET/DELETE. */
function rawRequest(url: string, method: string, headers: Record<string, string | string[]>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const req = httpRequest(url, { method, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...length, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Regression (issue 10, HTTP and token edges): Node keeps the first of two Authorization lines,
// so a valid-then-forged pair was authenticated on the valid one (200), and GET/DELETE bodies
// were ignored. Checked against the old code path in proxy/server.ts.
describe('Streamable HTTP: header and method edges', () => {
  it('refuses two Authorization headers with 400 invalid_request, as ext_authz does', async () => {
    const forged = await rig.issuer.hostile.tampered({ sub: 'alice', azp: 'agent-1' });
    for (const pair of [[`Bearer ${token}`, `Bearer ${forged}`], [`Bearer ${token}`, `Bearer ${token}`]]) {
      const res = await rawRequest(rig.proxy.url, 'POST', { authorization: pair }, JSON.stringify(initialize()));
      expect(res.status).toBe(400);
      expect(res.headers['www-authenticate']).toContain('invalid_request');
    }
  });

  it('refuses a GET or DELETE that carries a body', async () => {
    const s = await rawSession();
    for (const method of ['GET', 'DELETE']) {
      const res = await rawRequest(rig.proxy.url, method, s.headers, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'everything__get-env', arguments: {} } }));
      expect(res.status, method).toBe(400);
      expect(res.body, JSON.stringify(res.headers)).toContain(`HTTP ${method} must not carry a body`);
    }
  });
});

describe('Streamable HTTP transport rules', () => {
  it('refuses a foreign Origin with 403 and admits an allowed one', async () => {
    const evil = await rawPost(rig.proxy.url, initialize(), { authorization: `Bearer ${token}`, origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect((await errorOf(evil)).error.message).toContain('Origin "http://evil.example" is not allowed');
    const ok = await rawPost(rig.proxy.url, initialize(), { authorization: `Bearer ${token}`, origin: 'http://localhost:6274' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
  });

  it('challenges a missing or forged token with 401 and the resource metadata URL', async () => {
    const none = await rawPost(rig.proxy.url, initialize(), {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('resource_metadata="https://toolgate.test/.well-known/oauth-protected-resource/mcp"');
    const forged = await rawPost(rig.proxy.url, initialize(), { authorization: `Bearer ${await rig.issuer.hostile.unsecured({ sub: 'alice' })}` });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers a call that lacks a tool scope with 403 insufficient_scope, and allows it once the token has it', async () => {
    const s = await rawSession();
    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'mirror__get-sum', arguments: { a: 1, b: 2 } } };
    const sumsBefore = rig.tap.calls.filter((c) => c.name === 'get-sum').length;
    const res = await rawPost(rig.proxy.url, call, s.headers);
    expect(res.status).toBe(403);
    // No silent retry: the refused call never reached the upstream, under any credential.
    expect(rig.tap.calls.filter((c) => c.name === 'get-sum')).toHaveLength(sumsBefore);
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="math:sum"');
    expect(challenge).toContain('resource_metadata=');
    const body = await errorOf(res);
    expect(body.id).toBe(7);
    expect(body.error.code).toBe(ErrorCodes.insufficientScope);

    const { client } = await connectClient(rig.proxy.url, await rig.token({ scope: 'math:sum' }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('mirror__get-sum');
      const r = await client.callTool({ name: 'mirror__get-sum', arguments: { a: 1, b: 2 } });
      expect(JSON.stringify(r.content)).toContain('3');
      // Only the call the scoped token made arrived: once.
      expect(rig.tap.calls.filter((c) => c.name === 'get-sum')).toHaveLength(sumsBefore + 1);
    } finally {
      await client.close();
    }
  });

  it('enforces Accept, Content-Type and the body size limit', async () => {
    const h = { authorization: `Bearer ${token}` };
    const jsonOnly = await rawPost(rig.proxy.url, initialize(), { ...h, accept: 'application/json' });
    expect(jsonOnly.status).toBe(406);
    const wildcard = await rawPost(rig.proxy.url, initialize(), { ...h, accept: '*/*' });
    expect(wildcard.status).toBe(200);
    const text = await rawPost(rig.proxy.url, initialize(), { ...h, 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    const huge = await rawPost(rig.proxy.url, { ...initialize(), pad: 'x'.repeat(5 * 1024 * 1024) }, h);
    expect(huge.status).toBe(413);
    expect((await errorOf(huge)).error.message).toContain('larger than 4194304 bytes');
    const batch = await rawPost(rig.proxy.url, [initialize()], h);
    expect(batch.status).toBe(400);
    expect((await errorOf(batch)).error.code).toBe(ErrorCodes.invalidRequest);
    const get = await fetch(rig.proxy.url, { headers: { ...h, accept: 'application/json' } });
    expect(get.status).toBe(406);
  });

  it('negotiates the protocol version, refuses unsupported MCP-Protocol-Version headers and accepts any supported one, as the SDK server does', async () => {
    const old = await rawPost(rig.proxy.url, initialize('2025-06-18'), { authorization: `Bearer ${token}` });
    expect(((await old.json()) as { result: { protocolVersion: string } }).result.protocolVersion).toBe('2025-06-18');
    const future = await rawPost(rig.proxy.url, initialize('2099-01-01'), { authorization: `Bearer ${token}` });
    expect(((await future.json()) as { result: { protocolVersion: string } }).result.protocolVersion).toBe('2025-11-25');

    const s = await rawSession(token, '2025-06-18');
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const bad = await rawPost(rig.proxy.url, list, { ...s.headers, 'mcp-protocol-version': '1999-01-01' });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).error.message).toContain('is not supported');
    // Another supported version than the negotiated one is accepted, as the SDK server accepts it.
    const other = await rawPost(rig.proxy.url, list, { ...s.headers, 'mcp-protocol-version': '2025-11-25' });
    expect(other.status).toBe(200);
    expect(((await other.json()) as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(5);
    const { 'mcp-protocol-version': _omit, ...noVersion } = s.headers;
    const absent = await rawPost(rig.proxy.url, list, noVersion);
    expect(absent.status).toBe(200);
    expect(((await absent.json()) as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(5);
  });

  it('requires a session id, and hides another caller\'s session as unknown', async () => {
    const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' };
    const missing = await rawPost(rig.proxy.url, list, { authorization: `Bearer ${token}` });
    expect(missing.status).toBe(400);
    const s = await rawSession();
    const bob = await rig.token({ sub: 'bob' });
    const stolen = await rawPost(rig.proxy.url, list, { ...s.headers, authorization: `Bearer ${bob}` });
    expect(stolen.status).toBe(404);
    const reinit = await rawPost(rig.proxy.url, initialize(), s.headers);
    expect(reinit.status).toBe(400);
  });

  it('accepts notifications with 202 and refuses responses to requests nobody sent', async () => {
    const s = await rawSession();
    const note = await rawPost(rig.proxy.url, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, s.headers);
    expect(note.status).toBe(202);
    const stray = await rawPost(rig.proxy.url, { jsonrpc: '2.0', id: 'everything:999', result: {} }, s.headers);
    expect(stray.status).toBe(400);
    const noId = await rawPost(rig.proxy.url, { jsonrpc: '2.0', method: 'tools/call', params: { name: 'everything__echo' } }, s.headers);
    expect(noId.status).toBe(400);
  });

  it('relays server requests on the merged GET stream (roots) and sends tools/list_changed on request', async () => {
    const roots = [{ uri: 'file:///srv/project', name: 'project' }];
    const { client } = await connectClient(rig.proxy.url, token, { roots: { listChanged: true } });
    let rootsAsked = 0;
    let listChanged = 0;
    client.setRequestHandler(ListRootsRequestSchema, async () => { rootsAsked++; return { roots }; });
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => { listChanged++; });
    try {
      // Each server asks for roots on its own after initialization, over the GET stream.
      await waitFor(() => rootsAsked >= 2);
      const r = await client.callTool({ name: 'everything__get-roots-list', arguments: {} });
      expect(JSON.stringify(r.content)).toContain('file:///srv/project');
      rig.proxy.notifyToolsChanged();
      await waitFor(() => listChanged >= 1);
    } finally {
      await client.close();
    }
  });

  it('ends the merged GET stream when the session is deleted', async () => {
    const s = await rawSession();
    const get = await fetch(rig.proxy.url, { headers: { ...s.headers, accept: 'text/event-stream' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('text/event-stream');
    const second = await fetch(rig.proxy.url, { headers: { ...s.headers, accept: 'text/event-stream' } });
    expect(second.status).toBe(409);
    const del = await fetch(rig.proxy.url, { method: 'DELETE', headers: s.headers });
    expect(del.status).toBe(200);
    const reader = get.body!.getReader();
    let done = false;
    while (!done) done = (await reader.read()).done;
    expect(done).toBe(true);
    const after = await fetch(rig.proxy.url, { method: 'DELETE', headers: s.headers });
    expect(after.status).toBe(404);
  });

  it('answers GET with 405 when no upstream offers a stream, and readiness follows the gate', async () => {
    const router = new PolicyRouter();
    const log = pino({ level: 'silent' });
    // With no policy loaded the gate is not ready and refuses everything.
    expect(new Gate({ router, log }).ready()).toBe(false);
    let ready = true;
    const gate = new Gate({ router, log, catalog: anyNameCatalog, ready: () => ready, authenticate: async () => ({ subject: 'a', issuer: 'i', roles: [], scopes: [] }) });
    const empty = await startMcpProxy({ gate });
    try {
      const init = await rawPost(empty.url, initialize(), {});
      const sid = init.headers.get('mcp-session-id')!;
      const get = await fetch(empty.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
      expect(get.status).toBe(405);
      expect((await fetch(empty.url.replace('/mcp', '/readyz'))).status).toBe(200);
      ready = false;
      expect((await fetch(empty.url.replace('/mcp', '/readyz'))).status).toBe(503);
      const refused = await rawPost(empty.url, initialize(), {});
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await errorOf(refused)).error.code).toBe(ErrorCodes.policyUnavailable);
      expect((await fetch(rig.proxy.url.replace('/mcp', '/readyz'))).status).toBe(200);
    } finally {
      await empty.close();
    }
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}
