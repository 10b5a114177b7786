import { describe, expect, it } from 'vitest';
import { readHttp, CheckRequestError } from './request.ts';

describe('readHttp', () => {
  it('prefers the route\'s context extension over the client\'s header for the server', () => {
    const v = readHttp({ attributes: { context_extensions: { 'toolgate-server': 'gmail' }, request: { http: { method: 'post', headers: { 'X-Toolgate-Server': 'admin' }, body: '{}' } } } });
    expect([v.method, v.server, v.serverSource]).toEqual(['POST', 'gmail', 'context_extensions']);
    const h = readHttp({ attributes: { request: { http: { method: 'POST', headers: { 'x-toolgate-server': 'fetch' } } } } });
    expect([h.server, h.serverSource]).toEqual(['fetch', 'header']);
    expect(readHttp({ attributes: { request: { http: { method: 'POST' } } } }).server).toBeUndefined();
  });

  it('reads header_map (encode_raw_headers) and joins repeated headers', () => {
    const v = readHttp({ attributes: { request: { http: { header_map: { headers: [
      { key: 'Authorization', raw_value: Buffer.from('Bearer abc') }, { key: 'x-a', value: '1' }, { key: 'x-a', value: '2' },
    ] } } } } });
    expect(v.headers).toEqual({ authorization: 'Bearer abc', 'x-a': '1,2' });
  });

  it('takes raw_body over body and counts bytes, not characters', () => {
    expect(readHttp({ attributes: { request: { http: { body: 'ignored', raw_body: Buffer.from('é') } } } }).bodyBytes).toBe(2);
    expect(readHttp({ attributes: { request: { http: { body: 'éé' } } } }).bodyBytes).toBe(4);
  });

  it('sees a truncated body by Envoy\'s header or by a size above what arrived', () => {
    const view = (headers: Record<string, string>, size?: string) => readHttp({ attributes: { request: { http: { headers, body: 'abc', ...(size ? { size } : {}) } } } });
    expect(view({ 'x-envoy-auth-partial-body': 'true' }).partial).toBe(true);
    expect(view({}, '10').partial).toBe(true);
    expect(view({}, '3').partial).toBe(false);
    expect(view({}, '-1').partial).toBe(false);
    expect(view({ 'x-envoy-auth-partial-body': 'false' }).partial).toBe(false);
  });

  it('refuses a CheckRequest without an HTTP request', () => {
    expect(() => readHttp({})).toThrow(CheckRequestError);
  });

  it('strips the query from the path, keeping it in the url the token check reads', () => {
    const v = readHttp({ attributes: { request: { http: { path: '/tenants/a/mcp/?access_token=x', host: 'gw.example.com', scheme: 'https' } } } });
    expect(v.path).toBe('/tenants/a/mcp/');
    expect(v.url).toBe('/tenants/a/mcp/?access_token=x');
  });
});
