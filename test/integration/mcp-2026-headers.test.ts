// The Mcp-Method / Mcp-Name / MCP-Protocol-Version check through the real ext_authz gRPC server
// (official Envoy protos), with real jose-signed tokens and the real policy.wasm: a generated
// corpus of header/body pairs (test/fixtures/mcp-2026/header-corpus.ts), sent as Envoy sends
// them (lower-case header map, a repeated header's values joined with ","). Every pair whose
// headers disagree with the body is denied 400 with HeaderMismatch (-32020); no faithful pair is.
// The proxy calls the same function (the unit corpus in gate/mcp-headers.test.ts covers every
// pair in its form); here the pairs whose values survive HTTP parsing unchanged also go to the
// real proxy over HTTP, repeated headers sent as repeated header lines.
import { request as httpRequest } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExtAuthzServer, type CheckResponse, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { ErrorCodes, Gate } from '../../authorizer/src/gate/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { buildHeaderCorpus, joinedHeaders, type HeaderCase } from '../fixtures/mcp-2026/header-corpus.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';
import { authorizationClient, checkOnce, compileFixture, envoyCheckRequest, loadFixtureRouter } from '../support/extauthz.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const caseCount = Number(process.env.HEADER_CORPUS_CASES ?? 3000);

let issuer: TestIssuer;
let server: ExtAuthzServer;
let client: ReturnType<typeof authorizationClient>;
let token: string;
let proxy: McpProxy;

beforeAll(async () => {
  issuer = await startJwtIssuer({ audience: 'https://gateway.example.com/mcp' });
  const router = await loadFixtureRouter(compileFixture({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: issuer.audience }));
  server = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log, gate: new Gate({ router, log, catalog: anyNameCatalog, ready: () => true }) });
  client = authorizationClient(server.port);
  proxy = await startMcpProxy({ gate: new Gate({ router, log, catalog: anyNameCatalog, ready: () => true }), log });
  token = await issuer.mint({ sub: 'alice', azp: 'agent-1', scope: 'norg:contacts:read norg:messaging:write norg:messaging:bulk' });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  client?.close();
  await server?.close();
  await issuer?.close();
});

/** -32020 and its HTTP status when the Check was denied for the headers, else what it was. */
function headerVerdict(res: CheckResponse): { mismatch: boolean; http?: string; code?: number } {
  const d = res.denied_response;
  if (!d) return { mismatch: false };
  const body = JSON.parse(d.body) as { error?: { code?: number } };
  return { mismatch: body.error?.code === ErrorCodes.headerMismatch, http: d.status.code as unknown as string, ...(body.error?.code !== undefined ? { code: body.error.code } : {}) };
}

async function check(c: HeaderCase, method = 'POST'): Promise<CheckResponse> {
  return checkOnce(client, envoyCheckRequest({
    method, ...(method === 'POST' ? { body: c.body } : {}),
    headers: { authorization: `Bearer ${token}`, ...joinedHeaders(c.headers) },
  }));
}

describe('ext_authz: Mcp-* headers against the body (generated corpus)', () => {
  it(`denies every disagreeing pair with 400 HeaderMismatch and no faithful one (${caseCount} pairs)`, async () => {
    const corpus = buildHeaderCorpus(caseCount, 0x0e_2026);
    const wrong: unknown[] = [];
    let denied = 0;
    for (let i = 0; i < corpus.length; i += 50) {
      const batch = corpus.slice(i, i + 50);
      const answers = await Promise.all(batch.map((c) => check(c)));
      answers.forEach((res, j) => {
        const c = batch[j]!;
        const v = headerVerdict(res);
        if (v.mismatch) denied++;
        const right = c.agree ? !v.mismatch : v.mismatch && v.http === 'BadRequest';
        if (!right) wrong.push({ kind: c.kind, headers: c.headers, body: c.body, verdict: v });
      });
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(denied).toBe(corpus.filter((c) => !c.agree).length);
    expect(denied).toBeGreaterThan(caseCount / 3);
  }, 300_000);

  it('lets a faithful 2026-07-28 tools/call through to the policy (decided, not refused for its headers)', async () => {
    const body = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'contacts.search', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } };
    const res = await check({ kind: 'faithful', body, agree: true, headers: { 'mcp-protocol-version': ['2026-07-28'], 'mcp-method': ['tools/call'], 'mcp-name': ['contacts.search'] } });
    expect(headerVerdict(res).mismatch).toBe(false);
    const bad = await check({ kind: 'x', body, agree: false, headers: { 'mcp-protocol-version': ['2026-07-28'], 'mcp-method': ['tools/list'], 'mcp-name': ['contacts.search'] } });
    const d = JSON.parse(bad.denied_response!.body) as { id: unknown; error: { code: number; message: string } };
    expect(d).toMatchObject({ id: 7, error: { code: -32020 } });
    expect(d.error.message).toMatch(/Mcp-Method header value "tools\/list" does not match body value "tools\/call"/);
  });

  it('denies Mcp-Method on a GET or DELETE, which carries no message', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await check({ kind: 'no body', body: {}, agree: false, headers: { 'mcp-method': ['tools/call'] } }, method);
      expect(headerVerdict(res)).toMatchObject({ mismatch: true, http: 'BadRequest' });
      expect((await check({ kind: 'no body', body: {}, agree: true, headers: {} }, method)).status.code).toBe(0);
    }
  });
});

/** One POST to the proxy with these header lines (arrays repeat a header); status and JSON-RPC error code. */
function proxyPost(c: HeaderCase): Promise<{ status: number; code?: number }> {
  const body = JSON.stringify(c.body);
  const u = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(Buffer.byteLength(body)), ...c.headers },
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => {
        let code: number | undefined;
        try { code = (JSON.parse(text) as { error?: { code?: number } }).error?.code; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, ...(code !== undefined ? { code } : {}) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A value HTTP carries unchanged: no surrounding whitespace (parsers strip it), no bytes a client library refuses. */
const wireSafe = (v: string) => v === '' || /^[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?$/.test(v);

describe('proxy over HTTP: Mcp-* headers against the body (generated corpus)', () => {
  it('refuses every disagreeing pair with 400 HeaderMismatch and no faithful one', async () => {
    const corpus = buildHeaderCorpus(1500, 0x0f_2026).filter((c) => Object.values(c.headers).every((vs) => vs.every(wireSafe)));
    expect(corpus.length).toBeGreaterThan(800);
    const wrong: unknown[] = [];
    for (let i = 0; i < corpus.length; i += 25) {
      const batch = corpus.slice(i, i + 25);
      const answers = await Promise.all(batch.map(proxyPost));
      answers.forEach((a, j) => {
        const c = batch[j]!;
        const mismatch = a.code === ErrorCodes.headerMismatch;
        if (c.agree ? mismatch : !(mismatch && a.status === 400)) wrong.push({ kind: c.kind, headers: c.headers, body: c.body, answer: a });
      });
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(corpus.filter((c) => !c.agree).length).toBeGreaterThan(300);
  }, 300_000);
});
