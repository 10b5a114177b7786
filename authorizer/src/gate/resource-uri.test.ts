// The canonical form of resource URIs (resource-uri.ts): what is accepted, what is refused and
// why, and a generated corpus of thousands of variants of protected URIs run through the real
// gate and policy.wasm: whatever reaches the upstream must not be read as a protected resource
// by any common reader (WHATWG URL, percent-decoding once or twice, path normalisation, NFKC,
// trimming, backslash-as-slash, case folding of scheme and host).
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../pkg/policy/compiler/index.ts';
import { ensurePolicyWasm } from '../../../pkg/policy/engine/policy-wasm.ts';
import { policy } from '../../../test/support/compiler.ts';
import { rng, type Rng } from '../../../test/support/prng.ts';
import { Gate } from './gate.ts';
import { parseJsonRpc } from './jsonrpc.ts';
import { PolicyRouter } from './policy-router.ts';
import { uriProblem } from './resource-uri.ts';

describe('uriProblem', () => {
  it.each([
    'file:///srv/public/readme.md', 'file:///', 'file:///dir/', 'https://docs.example/a/b?x=1&y=%20z', 'https://docs.example:8443/a',
    'urn:isbn:0451450523', 'db://main/table?limit=10', 'file:///caf%C3%A9', 'https://[::1]:8080/x', 'file:///100%25', 'mem:///a%3Fb',
  ])('accepts %s', (uri) => {
    expect(uriProblem(uri)).toBeUndefined();
  });

  it.each([
    ['', /empty/], ['x'.repeat(9000), /longer than 8192/], ['file:///a b', /a space/], [' file:///a', /a space/], ['file:///a\n', /U\+000A/],
    ['file:///café', /U\+00E9/], ['/etc/passwd', /no scheme/], ['File:///a', /upper-case scheme/], ['file:///a#b', /fragment/],
    ['file:///a\\b', /backslash/], ['file:///a%2', /does not start an escape/], ['file:///a%zz', /does not start an escape/],
    ['file:///a%2f', /lower-case escape/], ['file:///%61', /unreserved character "a"/], ['file:///%2E%2E/x', /unreserved character "\."/],
    ['file:///a%2Fb', /path separator/], ['file:///a%5Cb', /path separator/], ['file:///a%00', /control character/],
    ['file:///a%252E', /double-encoded/], ['file:///a%C3', /not valid UTF-8/], ['file:///%EF%BC%8E%EF%BC%8E/x', /NFKC/],
    ['https://user@host/x', /user information/], ['https://Host/x', /upper case in its host/], ['https://host./x', /ending in a dot/],
    ['https://h%41/x', /unreserved|escape in its authority/], ['https://host:443/x', /default port 443/], ['http://host:80/x', /default port 80/],
    ['https://host:0443/x', /leading zeros/], ['https://host:/x', /port ""/], ['file:///a/./b', /"\." path segment/],
    ['file:///a/../b', /"\.\." path segment/], ['file:///a/..', /"\.\." path segment/], ['file:///a//b', /empty path segment/],
    ['urn:a/../b', /"\.\." path segment/],
  ])('refuses %j', (uri, why) => {
    expect(uriProblem(uri)).toMatch(why);
  });

  it('holds URI templates to every rule but the WHATWG one, which would escape their braces', () => {
    expect(uriProblem('file:///public/{path}')).toMatch(/WHATWG canonical form/);
    expect(uriProblem('file:///public/{path}', { template: true })).toBeUndefined();
    expect(uriProblem('file:///public/../{path}', { template: true })).toMatch(/"\.\." path segment/);
    expect(uriProblem('FILE:///{path}', { template: true })).toMatch(/upper-case scheme/);
  });
});

// ---------------------------------------------------------------------------------------------
// The corpus.

/** Resources the policy denies; the corpus tries to reach them. */
const protectedPrefixes = ['file:///srv/secret/', 'https://internal.example/admin/'];
const bases = [
  'file:///srv/secret/key.pem', 'file:///srv/secret/db/password.txt', 'https://internal.example/admin/users', 'https://internal.example/admin/',
  // Benign-looking starts that readers may resolve into the protected area.
  'file:///srv/public/../secret/key.pem', 'file:///srv/./secret/key.pem', 'https://internal.example/public/../admin/users',
];

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const at = (r: Rng, s: string) => Math.floor(r() * (s.length + 1));
const encode = (c: string, lower: boolean) => [...new TextEncoder().encode(c)].map((b) => `%${b.toString(16).padStart(2, '0')}`).map((e) => (lower ? e : e.toUpperCase())).join('');

type Mutation = (r: Rng, s: string) => string;
const mutations: Mutation[] = [
  (_r, s) => s.replace(/^[a-z]+/, (m) => m.toUpperCase()),
  (r, s) => { const i = Math.floor(r() * s.length); return s.slice(0, i) + s.charAt(i).toUpperCase() + s.slice(i + 1); },
  (r, s) => { const i = Math.floor(r() * s.length); return s.slice(0, i) + encode(s.charAt(i), r() < 0.3) + s.slice(i + 1); },
  (r, s) => { const i = Math.floor(r() * s.length); return s.slice(0, i) + encode(s.charAt(i), false).replace(/%/g, '%25') + s.slice(i + 1); },
  (r, s) => s.replace('/secret/', pick(r, ['/./secret/', '/x/../secret/', '//secret/', '/secret//', '/secret/./'])).replace('/admin/', pick(r, ['/./admin/', '/a/../admin/', '//admin/'])),
  (r, s) => s.replace(/\//g, (m) => (r() < 0.3 ? pick(r, ['\\', '%2F', '%2f', '%5C', '／', '%EF%BC%8F']) : m)),
  (r, s) => s.replace(/\./g, (m) => (r() < 0.5 ? pick(r, ['%2E', '%2e', '．', '%EF%BC%8E', '%252E', '。']) : m)),
  (r, s) => pick(r, [' ', '\t', '\n', '\u200b', '\u00a0', '\ufeff']) + s,
  (r, s) => s + pick(r, [' ', '\t', '\n', '\r\n', '\u200b', '%20', '%00', '%0A', '.', '/', '/.', '/..', '?', '?x=1', '#', '#/../../x', ';x', '%23x']),
  (r, s) => { const i = at(r, s); return s.slice(0, i) + pick(r, ['\u200b', '\u0301', '\u00ad', '%E2%80%8B', '%CC%81', '\u0000', '%00']) + s.slice(i); },
  (r, s) => s.replace('https://internal.example', pick(r, ['https://INTERNAL.example', 'https://internal.example.', 'https://internal.example:443', 'https://x@internal.example', 'https://internal.example:0443', 'https://internal%2Eexample', 'HTTPS://internal.example', 'https:internal.example', 'https:/internal.example', 'https:///internal.example'])),
  (r, s) => s.replace('file:///', pick(r, ['file://localhost/', 'file:/', 'file:', 'FILE:///', 'file:////', 'file://%2F/', 'file:\\\\\\'])),
  (r, s) => s.replace(/[a-z]/g, (m) => (r() < 0.1 ? m.toUpperCase() : m)),
];

function corpus(n: number, seed: number): string[] {
  const r = rng(seed);
  const out = new Set<string>();
  for (const b of bases) out.add(b);
  while (out.size < n) {
    let s = pick(r, bases);
    const k = 1 + Math.floor(r() * 3);
    for (let i = 0; i < k; i++) s = pick(r, mutations)(r, s);
    out.add(s);
  }
  return [...out];
}

function decodeLoosely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return unescape(s);
  }
}

/** Every string a reader of some kind could take the URI for. */
function readings(uri: string): string[] {
  const out = new Set<string>();
  const add = (s: string) => {
    out.add(s);
    const m = /^([A-Za-z][A-Za-z0-9+.-]*:)(\/\/[^/]*)?(.*)$/.exec(s);
    if (m) {
      const scheme = m[1]!.toLowerCase();
      const authority = (m[2] ?? '').toLowerCase().replace(/:(443|80)$/, '').replace(/\.$/, '').replace(/\/\/[^@/]*@/, '//');
      const p = m[3]!.split(/[?#]/)[0]!;
      out.add(scheme + authority + (p ? path.posix.normalize(p) : ''));
    }
  };
  const variants = [uri, uri.trim(), uri.replace(/\\/g, '/'), uri.normalize('NFKC')];
  for (const v of variants) {
    add(v);
    const once = decodeLoosely(v);
    add(once);
    add(once.normalize('NFKC'));
    add(once.normalize('NFKC').replace(/\\/g, '/').trim());
    add(decodeLoosely(once));
     
    add(once.replace(/[\p{Cc}\p{Cf}]/gu, ''));
    try {
      const u = new URL(v.trim());
      add(u.href);
      add(`${u.protocol}//${u.host}${path.posix.normalize(decodeLoosely(u.pathname))}`);
    } catch {
      // not a URL to WHATWG: nothing more it could read it as
    }
  }
  return [...out];
}

// Scheme and host are case-insensitive to every reader (readings() folds them); paths are not
// (RFC 3986), and the gate compares them exactly.
const reachesProtected = (uri: string) => readings(uri).some((s) => protectedPrefixes.some((p) => s.startsWith(p) || s === p.slice(0, -1)));

describe('URI corpus through the gate', () => {
  let gate: Gate;
  beforeAll(async () => {
    const router = new PolicyRouter();
    const { data, problems } = compilePolicy(policy({
      defaultAction: 'allow',
      policies: [{ name: 'deny-protected', priority: 1, when: { resources: protectedPrefixes.map((p) => `${p}*`) }, action: 'deny' }],
    }), new Map());
    expect(problems).toEqual([]);
    await router.entry('ns/p').engine.load(readFileSync(ensurePolicyWasm()), data!, 'rev');
    router.update('ns/p', { gateway: data!.toolgate.gateway, data: data! });
    gate = new Gate({ router, log: pino({ level: 'silent' }) });
  });

  it('lets no variant of a protected URI through to the upstream', async () => {
    const uris = corpus(5000, 11);
    const escaped: string[] = [];
    const counts = { invalid: 0, denied: 0, allowed: 0 };
    for (const uri of uris) {
      const a = await gate.admit(parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } })), {
        caller: { subject: 's', issuer: 'i', roles: [], scopes: [] }, frontEnd: 'ext_authz', naming: { server: 'gmail' },
      });
      if (a.kind === 'allow') {
        counts.allowed++;
        // What is forwarded is what was decided.
        expect(a.message).toMatchObject({ kind: 'request', message: { params: { uri } } });
        if (reachesProtected(uri)) escaped.push(uri);
      } else if (a.kind === 'refuse' && a.refusal.stage === 'decision') counts.denied++;
      else counts.invalid++;
    }
    expect(escaped).toEqual([]);
    expect(uris.length).toBe(5000);
    // The corpus exercises every outcome, so the check above has something to catch.
    expect(counts.invalid).toBeGreaterThan(1000);
    expect(counts.denied).toBeGreaterThan(50);
    expect(counts.allowed).toBeGreaterThan(50);
  });

  it('has readers that would be fooled without the canonical form (the oracle is not vacuous)', () => {
    for (const uri of [
      'file:///srv/public/../secret/key.pem', 'file:///srv/%73ecret/key.pem', 'FILE:///srv/secret/key.pem', 'file:///srv/secret%2Fkey', ' file:///srv/secret/key.pem',
      'file:/srv/secret/key.pem', 'file://localhost/srv/secret/key.pem', 'https:///internal.example/admin/x', 'file:///srv/se%E2%80%8Bcret/key.pem', 'HTTPS://Internal.Example:443/admin/x',
    ]) {
      expect(reachesProtected(uri), uri).toBe(true);
      expect(uriProblem(uri), uri).toBeDefined();
    }
    expect(reachesProtected('file:///srv/public/readme')).toBe(false);
  });
});
