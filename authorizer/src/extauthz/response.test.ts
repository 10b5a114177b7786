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

  it('answers 20 000 generated values exactly as the per-character encoding does (the fast path for plain values changes nothing)', () => {
    // The encoding before the fast path, kept here as the reference.
    const reference = (value: string) => {
      const enc = (ch: string) => (ch.length === 1 && ch >= '\ud800' && ch <= '\udfff' ? '%EF%BF%BD' : Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
      const encoded = Array.from(value.trim(), (ch) => (/^[\x20-\x24\x26-\x7e]$/.test(ch) ? ch : enc(ch))).join('');
      return encoded.length > 256 ? encoded.slice(0, 256).replace(/%[0-9A-F]?$/, '') : encoded;
    };
    const alphabet = ['a', 'Z', '0', ' ', '%', '$', '&', '~', '\x7f', '\t', '\r', '\n', '\u00a0', '\u2028', 'é', '\ud83d\ude00', '\ud800', '\udc00', '\ufeff', '\u3000'];
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let i = 0; i < 20_000; i++) {
      // Mostly plain values of every length around the cap, some with one odd character.
      const len = rand(300);
      let v = Array.from({ length: len }, () => alphabet[rand(i % 3 === 0 ? alphabet.length : 8)]).join('');
      if (i % 5 === 0) v = `  ${v}\t`;
      expect(sanitizeHeaderValue(v), JSON.stringify(v)).toBe(reference(v));
    }
  });
});

describe('CheckResponse builders', () => {
  const verdict = { decisionId: 'd-1' } as Verdict;

  it('maps refusals to the gRPC codes Envoy logs, unavailability included when answered 200', () => {
    const r = (httpStatus: number, code = -31001) => ({ httpStatus, error: { code, message: '' } });
    expect([r(401), r(403), r(200), r(413), r(503), r(500), r(200, -31003)].map(grpcCodeFor)).toEqual([16, 7, 7, 7, 14, 13, 14]);
  });

  it('removes identity headers it has no value for, and the token unless passed through', () => {
    const ok = okResponse({ subject: 's', issuer: 'i', roles: [], scopes: [], agent: 'a' }, undefined).ok_response!;
    expect(ok.headers.map((h) => h.header.key)).toEqual(['x-toolgate-agent']);
    expect(ok.headers_to_remove).toEqual(['authorization', 'x-toolgate-decision-id', 'x-toolgate-operator']);
    expect(okResponse(undefined, verdict, { passAuthorization: true }).ok_response!.headers_to_remove).toEqual(['x-toolgate-agent', 'x-toolgate-operator']);
  });

  it('answers a refusal with its status, a JSON-RPC error body, the challenge and its headers', () => {
    const res = deniedResponse({ stage: 'authentication', httpStatus: 401, id: 7, error: { code: -32000, message: 'no' }, wwwAuthenticate: 'Bearer', verdict, headers: { 'retry-after': '5' } });
    expect(res.status.code).toBe(16);
    expect(res.denied_response!.status.code).toBe(401);
    expect(JSON.parse(res.denied_response!.body)).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32000, message: 'no' } });
    expect(res.denied_response!.headers.map((h) => [h.header.key, h.header.value])).toEqual([
      ['content-type', 'application/json'], ['www-authenticate', 'Bearer'], ['x-toolgate-decision-id', 'd-1'], ['retry-after', '5'],
    ]);
    expect(deniedResponse({ stage: 'transport', httpStatus: 500, id: null, error: { code: -32603, message: 'x' } }, 9).status.code).toBe(9);
  });

  it('sends the authorizer\'s own challenge whole, as the proxy does, unlike claim-derived values', () => {
    const challenge = `Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="${'x'.repeat(300)}"`;
    const res = deniedResponse({ stage: 'authentication', httpStatus: 401, id: null, error: { code: -31005, message: 'no' }, wwwAuthenticate: `${challenge}\r\nx: 1` });
    expect(res.denied_response!.headers.find((h) => h.header.key === 'www-authenticate')!.header.value).toBe(`${challenge}??x: 1`);
  });
});
