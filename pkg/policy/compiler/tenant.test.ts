import { describe, expect, it } from 'vitest';
import { interpolate } from './tenant.ts';

const tenant = { company_domain: 'acme.com', org: 'acme-corp' };

describe('interpolate', () => {
  it('replaces variables verbatim in plain texts', () => {
    expect(interpolate('@{company_domain}', tenant, false)).toEqual({ value: '@acme.com', missing: [] });
    expect(interpolate('{org}/{org}', tenant, false).value).toBe('acme-corp/acme-corp');
  });

  it('quotes values inside regular expressions', () => {
    expect(interpolate('@{company_domain}$', tenant, true).value).toBe('@acme\\.com$');
  });

  it('leaves quantifiers and non-identifiers alone', () => {
    expect(interpolate('\\d{3}-x{2,4} {} {1a}', tenant, true)).toEqual({ value: '\\d{3}-x{2,4} {} {1a}', missing: [] });
  });

  it('lists each missing variable once', () => {
    expect(interpolate('{a}{company_domain}{a}{b}', tenant, false)).toEqual({ value: '{a}acme.com{a}{b}', missing: ['a', 'b'] });
  });

  it('does not resolve inherited properties', () => {
    expect(interpolate('{toString}', tenant, false).missing).toEqual(['toString']);
  });
});
