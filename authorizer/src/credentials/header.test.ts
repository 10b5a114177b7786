import { describe, expect, it } from 'vitest';
import { CredentialError } from './errors.ts';
import { credentialHeader } from './header.ts';

const secret = 's3cr3t-value-XYZ';
const refusal = (fn: () => unknown): CredentialError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof CredentialError) return err;
    throw err;
  }
  throw new Error('expected a CredentialError');
};

describe('credentialHeader', () => {
  it('defaults to Authorization: Bearer <value>', () => {
    expect(credentialHeader({}, secret, 'x')).toEqual({ Authorization: `Bearer ${secret}` });
  });

  it('uses the configured header and scheme, and the bare value for an empty scheme', () => {
    expect(credentialHeader({ header: 'X-Api-Key', scheme: 'Token' }, secret, 'x')).toEqual({ 'X-Api-Key': `Token ${secret}` });
    expect(credentialHeader({ header: 'X-Api-Key', scheme: '' }, secret, 'x')).toEqual({ 'X-Api-Key': secret });
  });

  it.each([
    ['a trailing newline', `${secret}\n`, /line break.*echo -n/],
    ['a CR/LF header injection', `${secret}\r\nX-Admin: true`, /line break/],
    ['a NUL byte', `${secret}\u0000`, /control or non-Latin-1/],
    ['a non-Latin-1 character', `${secret}\u2028`, /control or non-Latin-1/],
    ['an empty value', '', /is empty/],
  ])('refuses %s without echoing the value', (_what, value, message) => {
    const err = refusal(() => credentialHeader({}, value, 'Secret ns/creds key "token"'));
    expect(err.reason).toBe('InvalidValue');
    expect(err.message).toMatch(message);
    expect(err.message).toContain('Secret ns/creds key "token"');
    if (value) expect(err.message).not.toContain(secret);
  });

  it.each(['Host', 'content-length', 'Transfer-Encoding', 'Mcp-Session-Id', 'Proxy-Authorization'])('refuses the reserved header %s', (header) => {
    const err = refusal(() => credentialHeader({ header }, secret, 'x'));
    expect(err.reason).toBe('InvalidHeader');
    expect(err.message).toContain(header);
  });

  it('refuses a header name or scheme that could split the header', () => {
    expect(refusal(() => credentialHeader({ header: 'X-A\r\nB' }, secret, 'x')).message).toMatch(/not a valid header name/);
    expect(refusal(() => credentialHeader({ scheme: 'Bearer x' }, secret, 'x')).message).toMatch(/one token/);
  });
});
