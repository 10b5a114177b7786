import { describe, expect, it } from 'vitest';
import { buildHeaderCorpus } from '../../../test/fixtures/mcp-2026/header-corpus.ts';
import { ErrorCodes, parseJsonRpc, type JsonRpcMessage } from './jsonrpc.ts';
import { mcpHeaderMismatch, refuseHeaderMismatch } from './mcp-headers.ts';
import type { Refusal, RefusalContext } from './outcome.ts';

const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const msg = (method: string, params: Record<string, unknown> = {}, id: number | null = 1): JsonRpcMessage =>
  parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', ...(id === null ? {} : { id }), method, params }));
const modernCall = (name: string) => msg('tools/call', { name, arguments: {}, _meta: meta });
const modernHeaders = (name: string, extra: Record<string, string | string[]> = {}) => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name, ...extra });

describe('Mcp-Method / Mcp-Name / MCP-Protocol-Version against the body', () => {
  it('accepts the spec\'s own examples (plain and Base64-sentinel names, a resources/read URI)', () => {
    expect(mcpHeaderMismatch(modernHeaders('get_weather'), modernCall('get_weather'))).toBeUndefined();
    expect(mcpHeaderMismatch(modernHeaders('=?base64?SGVsbG8sIOS4lueVjA==?='), modernCall('Hello, 世界'))).toBeUndefined();
    expect(mcpHeaderMismatch(modernHeaders('=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?='), modernCall('=?base64?literal?='))).toBeUndefined();
    const uri = 'file:///projects/myapp/config.json';
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'resources/read', 'mcp-name': uri }, msg('resources/read', { uri, _meta: meta }))).toBeUndefined();
  });

  it('refuses a name that differs from the body, naming both values', () => {
    expect(mcpHeaderMismatch(modernHeaders('foo'), modernCall('bar'))?.message).toBe('Header mismatch: Mcp-Name header value "foo" does not match body value "bar" (params.name)');
  });

  it('refuses a method that differs from the body (the routing bypass)', () => {
    expect(mcpHeaderMismatch(modernHeaders('x', { 'mcp-method': 'tools/list' }), modernCall('x'))?.message).toMatch(/Mcp-Method header value "tools\/list" does not match body value "tools\/call"/);
  });

  it('checks headers on older versions too, but requires them only from 2026-07-28 on', () => {
    const old = msg('tools/call', { name: 'x', arguments: {} });
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2025-11-25' }, old)).toBeUndefined();
    expect(mcpHeaderMismatch({}, old)).toBeUndefined();
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'tools/list' }, old)?.message).toMatch(/Mcp-Method/);
    expect(mcpHeaderMismatch({ 'mcp-name': 'y' }, old)?.message).toMatch(/Mcp-Name/);
  });

  it('requires MCP-Protocol-Version, Mcp-Method and Mcp-Name on a 2026-07-28 request', () => {
    expect(mcpHeaderMismatch({ 'mcp-method': 'tools/call', 'mcp-name': 'x' }, modernCall('x'))?.message).toMatch(/MCP-Protocol-Version header is required/);
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2026-07-28', 'mcp-name': 'x' }, modernCall('x'))?.message).toMatch(/Mcp-Method header is required/);
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' }, modernCall('x'))?.message).toMatch(/Mcp-Name header is required for tools\/call/);
    // tools/list names nothing: no Mcp-Name needed.
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' }, msg('tools/list', { _meta: meta }))).toBeUndefined();
  });

  it('refuses a version header that disagrees with _meta, and a 2026-07-28 header over a body without one', () => {
    expect(mcpHeaderMismatch(modernHeaders('x', { 'mcp-protocol-version': '2025-11-25' }), modernCall('x'))?.message).toMatch(/MCP-Protocol-Version header "2025-11-25" does not match/);
    expect(mcpHeaderMismatch(modernHeaders('x'), msg('tools/call', { name: 'x', arguments: {} }))?.message).toMatch(/carries no "io.modelcontextprotocol\/protocolVersion"/);
  });

  it('treats an unknown version as the newest era (headers required): fail closed', () => {
    const future = msg('tools/call', { name: 'x', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2027-01-01' } });
    expect(mcpHeaderMismatch({}, future)?.message).toMatch(/MCP-Protocol-Version header is required/);
    // An unknown header version over a body without _meta mirrors nothing: the version check refuses it.
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '1999-01-01' }, msg('tools/list'))).toBeUndefined();
  });

  it('refuses repeated, empty, non-ASCII, whitespace-padded and malformed-sentinel values', () => {
    const body = modernCall('café');
    expect(mcpHeaderMismatch(modernHeaders('x', { 'mcp-name': ['x', 'x'] }), modernCall('x'))?.message).toMatch(/repeated \(2 times\)/);
    expect(mcpHeaderMismatch(modernHeaders(''), modernCall('x'))?.message).toMatch(/Mcp-Name header is empty/);
    expect(mcpHeaderMismatch(modernHeaders('café'), body)?.message).toMatch(/outside visible ASCII/);
    expect(mcpHeaderMismatch(modernHeaders(' x'), modernCall(' x'))?.message).toMatch(/leading or trailing whitespace/);
    expect(mcpHeaderMismatch(modernHeaders('=?base64?Y2Fmw6k?='), body)?.message).toMatch(/canonical Base64/);
    expect(mcpHeaderMismatch(modernHeaders('=?base64?Y2Fmww==?='), body)?.message).toMatch(/not valid UTF-8/);
    expect(mcpHeaderMismatch(modernHeaders(`=?base64?${Buffer.from('\ufeffcafé').toString('base64')}?=`), body)?.message).toMatch(/does not match/);
    expect(mcpHeaderMismatch(modernHeaders('=?base64?Y2Fmw6k=?='), body)).toBeUndefined();
  });

  it('refuses Mcp-Method / Mcp-Name on a request that carries no message, or on a response', () => {
    expect(mcpHeaderMismatch({ 'mcp-method': 'tools/call' }, undefined)?.message).toMatch(/carries no JSON-RPC message/);
    expect(mcpHeaderMismatch({}, undefined)).toBeUndefined();
    const response = parseJsonRpc('{"jsonrpc":"2.0","id":1,"result":{}}');
    expect(mcpHeaderMismatch({ 'mcp-name': 'x' }, response)?.message).toMatch(/JSON-RPC response/);
  });

  it('lets a notification without headers pass (the spec defines none for notification POSTs) but checks the ones present', () => {
    const n = msg('notifications/cancelled', { requestId: 1, _meta: meta }, null);
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2026-07-28' }, n)).toBeUndefined();
    expect(mcpHeaderMismatch({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' }, n)?.message).toMatch(/Mcp-Method/);
  });

  it('renders the refusal as 400 with HeaderMismatch (-32020) and the request id, through the gate', () => {
    const refused: Refusal[] = [];
    const gate = { refuse: (_: RefusalContext, r: Refusal) => (refused.push(r), r) };
    const r = refuseHeaderMismatch(gate, { frontEnd: 'proxy' }, modernHeaders('foo'), modernCall('bar'));
    expect(r).toMatchObject({ stage: 'message', httpStatus: 400, id: 1, error: { code: ErrorCodes.headerMismatch } });
    expect(ErrorCodes.headerMismatch).toBe(-32020);
    expect(refused).toHaveLength(1);
    expect(refuseHeaderMismatch(gate, { frontEnd: 'proxy' }, modernHeaders('foo'), modernCall('foo'))).toBeUndefined();
  });
});

describe('generated header/body corpus (the function the proxy calls, headers as Node\'s headersDistinct gives them)', () => {
  const corpus = buildHeaderCorpus(5000, 0x2026_0728);

  it('covers agreeing and disagreeing pairs of many kinds', () => {
    const kinds = new Set(corpus.map((c) => c.kind));
    expect(kinds.size).toBeGreaterThan(30);
    expect(corpus.filter((c) => c.agree).length).toBeGreaterThan(500);
    expect(corpus.filter((c) => !c.agree).length).toBeGreaterThan(2500);
  });

  it('refuses every pair whose headers disagree with the body and accepts every faithful one', () => {
    const wrong = corpus.flatMap((c) => {
      const refused = mcpHeaderMismatch(c.headers, parseJsonRpc(JSON.stringify(c.body))) !== undefined;
      return refused === !c.agree ? [] : [{ kind: c.kind, headers: c.headers, body: c.body, refused }];
    });
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});
