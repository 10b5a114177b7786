import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalStringify, compareGoStrings, goJsonString, opaCanonicalJson } from './opa-json.ts';
import { bundleFileHash } from './sign.ts';
import { decodeSignaturePayload, runOpa, tempDir, writeFiles } from '../../test/support/bundle.ts';
import { rng } from '../../test/support/prng.ts';

describe('opaCanonicalJson', () => {
  it('sorts keys by code point (UTF-8 byte order), not by UTF-16 unit', () => {
    // UTF-16 puts the emoji (D83D…) before U+FB01; UTF-8 and Go put it after.
    expect(opaCanonicalJson('{"\\ud83d\\ude00":1,"\ufb01":2,"é":3,"z":4,"Z":5}')).toBe('{"Z":5,"z":4,"é":3,"ﬁ":2,"😀":1}');
    expect(compareGoStrings('\ufb01', '\u{1F600}')).toBeLessThan(0);
    expect(compareGoStrings('ab', 'a')).toBeGreaterThan(0);
  });

  it('keeps every number literal as written (Go json.Number)', () => {
    expect(opaCanonicalJson('[1.50, -0, 1e2, 1E+2, 0.1E-3, 123456789012345678901234567890]')).toBe('[1.50,-0,1e2,1E+2,0.1E-3,123456789012345678901234567890]');
  });

  it('escapes strings like Go with SetEscapeHTML(false)', () => {
    expect(opaCanonicalJson('"<a&b> \\u003c \\/ \\b\\f\\n\\r\\t \\u0001 \\u001f \\u007f \\u2028\\u2029 \\"\\\\"'))
      .toBe('"<a&b> < / \\b\\f\\n\\r\\t \\u0001 \\u001f \u007f \\u2028\\u2029 \\"\\\\"');
    expect(goJsonString('\u2028')).toBe('"\\u2028"');
  });

  it('turns unpaired surrogates into U+FFFD and keeps pairs', () => {
    expect(opaCanonicalJson('["\\ud800", "\\udc00x", "\\ud83d\\ude00"]')).toBe('["\ufffd","\ufffdx","😀"]');
  });

  it('drops insignificant whitespace, lets later duplicate keys win and strips a BOM', () => {
    expect(opaCanonicalJson('\ufeff {\n "a" : [ 1 , { } , [ ] ] ,\t"a":true , "b":null }\r\n')).toBe('{"a":true,"b":null}');
  });

  it('refuses what Go refuses', () => {
    for (const bad of ['{"a":1,}', '[01]', '{"a":"x\ny"}', "{'a':1}", '[NaN]', '{"a":1} {}', '', '[1', '"\\x"', '[.5]', '[1.]', '{"a" 1}']) {
      expect(() => opaCanonicalJson(bad), bad).toThrow(/invalid JSON/);
    }
    expect(() => opaCanonicalJson(new Uint8Array([0x22, 0xff, 0x22]))).toThrow(/UTF-8/);
    expect(() => opaCanonicalJson('['.repeat(2000) + ']'.repeat(2000))).toThrow(/nesting/);
  });
});

describe('canonicalStringify', () => {
  it('writes exactly what opaCanonicalJson would produce from it', () => {
    const doc = { z: [1, 2.5, -0, 1e21, { b: '<&>', a: '\u2028\ud83d\ude00' }], é: true, '\u{1F600}': null, '\ufb01': 'x', a: undefined };
    const text = canonicalStringify(doc);
    expect(text).toBe('{"z":[1,2.5,0,1e+21,{"a":"\\u2028😀","b":"<&>"}],"é":true,"ﬁ":"x","😀":null}');
    expect(opaCanonicalJson(text)).toBe(text);
  });

  // The value rules are canonicalJson's (pkg/json/write.ts): a lone surrogate is refused rather
  // than written as U+FFFD, and undefined in an array rather than written as null, since either
  // would make two different values hash alike.
  it('refuses values JSON cannot carry, naming where they are', () => {
    expect(() => canonicalStringify({ a: Number.NaN })).toThrow('canonicalStringify: NaN has no JSON form at /a');
    expect(() => canonicalStringify({ a: [new Date(0)] })).toThrow('a Date has no JSON form (convert it to plain data first) at /a/0');
    expect(() => canonicalStringify({ a: () => 1 })).toThrow('a function has no JSON form at /a');
    expect(() => canonicalStringify({ a: 'x\ud800' })).toThrow('lone surrogate');
    expect(() => canonicalStringify({ '\udc00': 1 })).toThrow('lone surrogate');
    expect(() => canonicalStringify([undefined])).toThrow('undefined has no JSON form');
  });
});

// ---- The real opa as oracle: random documents full of the cases that differ between encoders. ----


const numbers = ['0', '-0', '1.50', '1e2', '1E+2', '-1.5e-7', '0.1E-3', '123456789012345678901234567890', '3.141592653589793238', '42', '1e400'];
// Raw characters (JSON text may carry them literally) and escapes (which it must use for some).
const literalChars = ['a', 'Z', ' ', '<', '>', '&', '/', 'é', '\u00a0', '\u2028', '\u2029', '\ufb01', '\ufeff', '\ufffd', '\u007f', '\u0080', '\u{1F600}', '中'];
const escapes = ['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u0000', '\\u001f', '\\u007f', '\\u003c', '\\u0026', '\\u2028', '\\ud800', '\\udfff', '\\ud83d\\ude00', '\\uFB01', '\\u00e9'];

function randomString(r: () => number): string {
  let s = '"';
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const pool = r() < 0.5 ? literalChars : escapes;
    s += pool[Math.floor(r() * pool.length)];
  }
  return `${s}"`;
}

function randomJson(r: () => number, depth: number): string {
  const ws = () => [' ', '', '\n', '\t', '\r\n'][Math.floor(r() * 5)] ?? '';
  const pick = r();
  if (depth > 3 || pick < 0.3) {
    const leaf = r();
    if (leaf < 0.4) return randomString(r);
    if (leaf < 0.8) return numbers[Math.floor(r() * numbers.length)] ?? '0';
    return ['true', 'false', 'null'][Math.floor(r() * 3)] ?? 'null';
  }
  if (pick < 0.55) {
    const items = Array.from({ length: Math.floor(r() * 4) }, () => ws() + randomJson(r, depth + 1) + ws());
    return `[${items.join(',')}]`;
  }
  return randomObject(r, depth);
}

function randomObject(r: () => number, depth: number): string {
  const entries = Array.from({ length: 1 + Math.floor(r() * 5) }, () => `${randomString(r)} : ${randomJson(r, depth + 1)}`);
  return `{${entries.join(', ')}}`;
}

describe('bundleFileHash against the real opa sign', () => {
  it('matches opa for random documents, raw files and the manifest', async () => {
    const r = rng(20251122);
    const docs = Array.from({ length: 60 }, (_, i) => ({ name: `c${i}/data.json`, data: Buffer.from(randomObject(r, 0)) }));
    docs.push(
      { name: 'bom/data.json', data: Buffer.from('\ufeff{"a": 1}') },
      { name: 'dup/data.json', data: Buffer.from('{"a": 1, "a": 2}') },
      { name: 'data.json', data: Buffer.from('{"toolgate": {"s": "<a&b>\\u2028\\b\\f\\u0001\u007f é 😀 \\ud800", "\\ufb01": 1, "\\ud83d\\ude00": 2, "é": 3}}') },
      { name: '.manifest', data: Buffer.from('{"revision": "r1", "roots": [""], "metadata": {"b": 1.0, "a": "<>"}}') },
      // Only data.json/.manifest are canonicalized: any other .json file is hashed raw.
      { name: 'other.json', data: Buffer.from('{"b": 1, "a": 2}\n') },
      { name: 'policy.wasm', data: Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) },
    );
    const dir = await tempDir('opa-json');
    try {
      const bundleDir = join(dir.path, 'bundle');
      await writeFiles(bundleDir, docs);
      const key = join(dir.path, 'key.pem');
      await writeFiles(dir.path, [{ name: 'key.pem', data: (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) }]);
      const out = join(dir.path, 'out');
      await writeFiles(out, [{ name: '.keep', data: '' }]);
      const res = await runOpa(['sign', '--bundle', '.', '--signing-key', key, '-o', out], bundleDir);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      const opa = decodeSignaturePayload(await readFile(join(out, '.signatures.json')));
      const theirs = Object.fromEntries(opa.files.map((f) => [f.name, f.hash]));
      const ours = Object.fromEntries(docs.map((d) => [d.name, bundleFileHash(d.name, d.data)]));
      expect(ours).toEqual(theirs);
      // The check has teeth: naive hashing of the raw bytes disagrees with opa for data files.
      const naive = createHash('sha256').update(docs[0]?.data ?? '').digest('hex');
      expect(naive).not.toBe(theirs['c0/data.json']);
    } finally {
      await dir.remove();
    }
  }, 60_000);
});
