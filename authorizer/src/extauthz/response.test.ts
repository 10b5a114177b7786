import { describe, expect, it } from 'vitest';
import type { Verdict } from '../gate/types.ts';
import { deniedResponse, grpcCodeFor, okResponse, sanitizeHeaderValue } from './response.ts';

describe('sanitizeHeaderValue', () => {
  it('percent-encodes control, non-ASCII and % so the value cannot split a header', () => {
    expect(sanitizeHeaderValue('agent-1')).toBe('agent-1');
    expect(sanitizeHeaderValue('a\r\nb')).toBe('a%0D%0Ab');
    expect(sanitizeHeaderValue('100%')).toBe('100%25');
    expect(sanitizeHeaderValue('zoë')).toBe('zo%C3%AB');
    expect(sanitizeHeaderValue('x\ud800')).toBe('x%EF%BF%BD');
  });

  it('caps the length without leaving half an escape', () => {
    const v = sanitizeHeaderValue(`${'a'.repeat(254)}é`);
    expect(v).toBe('a'.repeat(254));
    expect(sanitizeHeaderValue('b'.repeat(1000))).toHaveLength(256);
  });
});

describe('CheckResponse builders', () => {
  const verdict = { decisionId: 'd-1' } as Verdict;

  it('maps HTTP statuses to the gRPC codes Envoy logs', () => {
    expect([401, 403, 404, 413, 503, 500].map(grpcCodeFor)).toEqual([16, 7, 7, 7, 14, 13]);
  });

  it('removes identity headers it has no value for, and the token unless passed through', () => {
    const ok = okResponse({ subject: 's', issuer: 'i', roles: [], scopes: [], agent: 'a' }, undefined).ok_response!;
    expect(ok.headers.map((h) => h.header.key)).toEqual(['x-toolgate-agent']);
    expect(ok.headers_to_remove).toEqual(['authorization', 'x-toolgate-decision-id', 'x-toolgate-operator']);
    expect(okResponse(undefined, verdict, { passAuthorization: true }).ok_response!.headers_to_remove).toEqual(['x-toolgate-agent', 'x-toolgate-operator']);
  });

  it('answers a denial with a JSON-RPC error body and the challenge', () => {
    const res = deniedResponse({ httpStatus: 401, id: 7, error: { code: -32000, message: 'no' }, wwwAuthenticate: 'Bearer', verdict });
    expect(res.status.code).toBe(16);
    expect(JSON.parse(res.denied_response!.body)).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32000, message: 'no' } });
    expect(res.denied_response!.headers.map((h) => [h.header.key, h.header.value])).toEqual([
      ['content-type', 'application/json'], ['www-authenticate', 'Bearer'], ['x-toolgate-decision-id', 'd-1'],
    ]);
  });
});
