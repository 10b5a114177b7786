// Each detector's positives and negatives, structured redaction (nested, arrays, keys, secret
// keys, personal fields, numbers), and a generated corpus: valid cards and IBANs built with
// their checksums are all caught, the same with one digit changed are all left alone.
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JsonNumber } from '../json/strict.ts';
import { argumentsHmac } from './digest.ts';
import { createRedactor, detectors, ibanValid, luhnValid, type DetectorName } from './index.ts';

const redact = createRedactor();
const only = (name: DetectorName) => createRedactor({ detectors: [name] });
const clean = (v: unknown) => redact(v).value;

const cases: Record<DetectorName, { hit: string[]; miss: string[] }> = {
  'private-key': { hit: ['-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----', 'x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE'], miss: ['-----BEGIN PUBLIC KEY-----', 'private key rotation'] },
  jwt: { hit: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl', 'token=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.'], miss: ['eyJ.short', 'hello.world.again'] },
  bearer: { hit: ['Authorization: Bearer abcdef0123456789', 'basic dXNlcjpwYXNzd29yZA=='], miss: ['the bearer of bad news', 'Bearer short'] },
  'aws-access-key': { hit: ['AKIAIOSFODNN7EXAMPLE', 'key ASIAY34FZKBOKMUTVV7A here'], miss: ['AKIA123', 'akiaiosfodnn7example'] },
  'api-token': { hit: ['sk-proj-abcdefghijklmnop1234', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'xoxb-1234567890-abcdef'], miss: ['sk-short', 'ghp_x'] },
  'payment-card': { hit: ['4111111111111111', 'card 4111 1111 1111 1111 exp 12/29', '4111 1111 1111 1111 123', '5500-0000-0000-0004', '378282246310005'], miss: ['4111111111111112', '1234 5678 9012 3456', 'order 12345678'] },
  iban: { hit: ['DE89370400440532013000', 'pay GB82 WEST 1234 5698 7654 32 today', 'FR1420041010050500013M02606'], miss: ['DE89370400440532013001', 'GB82 WEST 1234 5698 7654 33', 'AB12'] },
  'us-ssn': { hit: ['123-45-6789', 'ssn: 078-05-1120.'], miss: ['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', '1234-56-7890'] },
  'uk-nino': { hit: ['AB123456C', 'nino JG 12 34 56 A'], miss: ['BG123456C', 'QQ123456A', 'AB123456E', 'DA123456A', 'AB12345C'] },
  email: { hit: ['alice@example.com', 'To: "Bob" <bob.smith+tag@mail.example.co.uk>'], miss: ['alice@localhost', 'not an @ email', 'a@b'] },
  phone: { hit: ['+44 20 7946 0958', 'call (555) 123-4567', '+1-202-555-0143', '030 12345678'], miss: ['2026-12-02', '1.2.3', 'v10.20.30', '192.168.100.200', '1764640000', 'room 12'] },
  'high-entropy': { hit: ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'x Zk9Qm2Lp8Rt4Vw7Yb1Nc5Hd3Jf6Gs0Ae9Tu2Io8 y'], miss: ['d41d8cd98f00b204e9800998ecf8427ed41d8cd9', 'this is a perfectly ordinary sentence', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1a'] },
};

describe('detectors', () => {
  for (const [name, { hit, miss }] of Object.entries(cases) as [DetectorName, { hit: string[]; miss: string[] }][]) {
    it(`${name}: finds each positive case and none of the negatives`, () => {
      const d = only(name);
      for (const h of hit) {
        const r = d(h);
        expect(r.found[name], h).toBeGreaterThan(0);
        expect(r.value, h).toContain(`[REDACTED:${name}]`);
      }
      for (const m of miss) expect(d(m), m).toEqual({ value: m, found: {} });
    });
  }

  it('a redacted string keeps the text around what was found', () => {
    expect(clean('mail alice@example.com or call +1-202-555-0143 now')).toBe('mail [REDACTED:email] or call [REDACTED:phone] now');
  });

  it('the checksums: Luhn and ISO 13616 mod 97', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(ibanValid('NL91ABNA0417164300')).toBe(true);
    expect(ibanValid('NL91ABNA0417164301')).toBe(false);
  });
});

describe('structured redaction', () => {
  it('reaches nested objects, arrays, keys and numbers; keeps the rest', () => {
    const r = redact({
      subject: 'Quarterly report',
      count: 3,
      to: [{ name: 'Alice', email: 'alice@example.com' }, { name: 'Bob', email: 'bob@example.org' }],
      deep: { a: { b: { c: ['pay DE89370400440532013000', { ssn: '123-45-6789' }] } } },
      'carol@example.net': 'a key that is an address',
      card: 4111111111111111,
      exact: new JsonNumber('4111111111111111'),
      ok: true,
      none: null,
    });
    expect(r.value).toEqual({
      subject: 'Quarterly report',
      count: 3,
      to: [{ name: 'Alice', email: '[REDACTED:email]' }, { name: 'Bob', email: '[REDACTED:email]' }],
      deep: { a: { b: { c: ['pay [REDACTED:iban]', { ssn: '[REDACTED:us-ssn]' }] } } },
      '[REDACTED:email]': 'a key that is an address',
      card: '[REDACTED:payment-card]',
      exact: '[REDACTED:payment-card]',
      ok: true,
      none: null,
    });
    expect(r.found).toEqual({ email: 3, iban: 1, 'us-ssn': 1, 'payment-card': 2 });
  });

  it('values under secret-named keys go whole, objects and arrays included', () => {
    expect(clean({ password: 'hunter2', apiKey: 42, auth: { user: 'u', pass: 'p' }, tokens: ['a', 'b'], token: null })).toEqual({
      password: '[REDACTED:secret-key]', apiKey: '[REDACTED:secret-key]', auth: '[REDACTED:secret-key]', tokens: '[REDACTED:secret-key]', token: null,
    });
  });

  it('fields marked personal go whole, by path with [*] and [N]', () => {
    const r = createRedactor({ personalFields: ['patient.name', 'visits[*].notes', 'ids[0]'] });
    expect(r({ patient: { name: 'Jane Roe', ward: 'B' }, visits: [{ notes: 'fine', day: 1 }, { notes: 'better', day: 2 }], ids: ['x', 'y'] }).value).toEqual({
      patient: { name: '[REDACTED:personal-field]', ward: 'B' }, visits: [{ notes: '[REDACTED:personal-field]', day: 1 }, { notes: '[REDACTED:personal-field]', day: 2 }], ids: ['[REDACTED:personal-field]', 'y'],
    });
    expect(() => createRedactor({ personalFields: ['bad path!'] })).toThrow(/"bad path!" is not a field path/);
  });

  it('two keys redacted alike stay two keys; a "__proto__" key stays data', () => {
    const input = JSON.parse('{"a@example.com":1,"b@example.com":2,"__proto__":{"x":"y"}}') as Record<string, unknown>;
    const out = clean(input) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['[REDACTED:email]', '[REDACTED:email]#2', '__proto__']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('any depth without a stack overflow', () => {
    let v: unknown = 'alice@example.com';
    for (let i = 0; i < 20_000; i++) v = [v];
    let out = clean(v);
    for (let i = 0; i < 20_000; i++) out = (out as unknown[])[0];
    expect(out).toBe('[REDACTED:email]');
  });

  it('redacts a megabyte of hostile text per detector shape without backtracking blow-up, leaving it intact', () => {
    const hostile = ['a'.repeat(1 << 20), `${'a.'.repeat(1 << 19)}`, `${'eyJ'.repeat(1 << 18)}`, `${'1 '.repeat(1 << 19)}`, `${'1'.repeat(1 << 20)}`, `${'Bearer '.repeat(1 << 17)}`, `${'DE00'.repeat(1 << 18)}`];
    for (const h of hostile) {
      const r = createRedactor({ maxString: Number.POSITIVE_INFINITY })(h);
      expect(r.value === h, h.slice(0, 12)).toBe(true);
      expect(r.found, h.slice(0, 12)).toEqual({});
    }
  }, 60_000);

  it('an unknown detector name is refused, naming it', () => {
    expect(() => createRedactor({ detectors: ['email', 'dna' as DetectorName] })).toThrow(/unknown redaction detector "dna"/);
  });
});

/** A random Luhn-valid card number of the given prefix and length. */
function card(prefix: string, length: number): string {
  let body = prefix;
  while (body.length < length - 1) body += String(randomInt(10));
  for (let c = 0; c < 10; c++) if (luhnValid(body + c)) return body + c;
  throw new Error('unreachable');
}

/** A valid IBAN for the country and BBAN, its check digits computed. */
function iban(country: string, bban: string): string {
  for (let k = 2; k < 99; k++) {
    const candidate = `${country}${String(k).padStart(2, '0')}${bban}`;
    if (ibanValid(candidate)) return candidate;
  }
  throw new Error('unreachable');
}

const digits = (n: number) => Array.from({ length: n }, () => String(randomInt(10))).join('');
/** The same number with one digit changed, which no single-digit-error-detecting checksum accepts. */
const oneDigitOff = (s: string, at: number) => s.slice(0, at) + String((Number(s[at]) + 1 + randomInt(8)) % 10) + s.slice(at + 1);

describe('generated corpus', () => {
  it('catches 200 generated Luhn-valid cards in nested arguments, and none of them with one digit changed', () => {
    const prefixes: Array<[string, number]> = [['4', 16], ['51', 16], ['37', 15], ['6011', 16], ['35', 16]];
    for (let i = 0; i < 200; i++) {
      const [p, n] = prefixes[i % prefixes.length] as [string, number];
      const c = card(p, n);
      const r = redact({ order: { payment: [{ note: `card ${c} thanks` }] } });
      expect(JSON.stringify(r.value), c).not.toContain(c);
      expect(r.found['payment-card'], c).toBe(1);
      const wrong = oneDigitOff(c, 1 + randomInt(n - 2));
      expect(luhnValid(wrong)).toBe(false);
      expect(only('payment-card')(`card ${wrong} thanks`).found, wrong).toEqual({});
    }
  });

  it('catches 200 generated valid IBANs, and none with one digit changed', () => {
    for (let i = 0; i < 200; i++) {
      const v = i % 2 === 0 ? iban('DE', digits(18)) : iban('NL', `ABNA${digits(10)}`);
      expect(only('iban')({ transfer: { to: v } }).value, v).toEqual({ transfer: { to: '[REDACTED:iban]' } });
      const at = v.length - 1 - randomInt(8);
      expect(only('iban')(oneDigitOff(v, at)).found).toEqual({});
    }
  });

  it('catches generated e-mail addresses, SSNs and NINOs wherever they sit', () => {
    for (let i = 0; i < 100; i++) {
      const email = `user${digits(4)}.${'abcdefgh'[i % 8]}@host${i}.example.com`;
      const ssn = `${String(100 + randomInt(565)).padStart(3, '0')}-${String(1 + randomInt(98)).padStart(2, '0')}-${String(1 + randomInt(9998)).padStart(4, '0')}`;
      const nino = `${'ACEHJLMOPRSW'[i % 12]}${'ABCEGHJKLMNPRSTW'[i % 16]}${digits(6)}${'ABCD'[i % 4]}`;
      const r = redact({ people: [[{ [email]: { note: `ssn ${ssn}, nino ${nino}` } }]] });
      const text = JSON.stringify(r.value);
      for (const v of [email, ssn, nino]) expect(text, v).not.toContain(v);
      expect(r.found).toMatchObject({ email: 1, 'us-ssn': 1, 'uk-nino': 1 });
    }
  });
});

describe('argumentsHmac', () => {
  const key = Buffer.alloc(32, 7);
  it('is the same for identical arguments in any key order, differs by value and by key', () => {
    const a = argumentsHmac(key, { to: 'alice@example.com', n: 1 });
    expect(a).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(argumentsHmac(key, { n: 1, to: 'alice@example.com' })).toBe(a);
    expect(argumentsHmac(key, { to: 'bob@example.com', n: 1 })).not.toBe(a);
    expect(argumentsHmac(Buffer.alloc(32, 8), { to: 'alice@example.com', n: 1 })).not.toBe(a);
  });
  it('refuses a short key', () => {
    expect(() => argumentsHmac(Buffer.alloc(8), {})).toThrow(/8 bytes; at least 16/);
  });
});

it('every detector has cases', () => {
  expect(Object.keys(cases).sort()).toEqual(Object.keys(detectors).sort());
});
