// toolgate's regex.find_n (re2js, the host builtin of policy.wasm) against the two RE2 engines
// OPA itself uses, on one generated corpus: the RE2 build inside opa-wasm (regex.match, what
// policy.wasm used before) and Go's regexp (opa eval: what opa test, an OPA running the bundle
// and the OPA-Envoy plugin run). Patterns: every `matches`
// the shipped profiles and samples carry, and generated ones over the constructs whose meaning
// differs between regex dialects (case folding, \b, \s, ., $, Unicode classes, repetition).
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildPolicyWasm, opaBinary, repoRoot } from './policy-wasm.ts';
import { regexFindN, regexMatches } from './regex.ts';
import { prng } from './testdata/input-corpus.ts';

/** Every `matches` value under profiles/ and config/samples/. */
function shippedPatterns(): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'matches' || k === 'notMatches') && typeof x === 'string') found.add(x);
        else walk(x);
      }
    }
  };
  for (const dir of ['profiles', 'config/samples']) {
    for (const f of readdirSync(path.join(repoRoot, dir)).filter((n) => n.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(path.join(repoRoot, dir, f), 'utf8'))) walk(doc.toJS());
    }
  }
  return [...found];
}

const atoms = ['a', 'k', 'K', 's', 'é', 'ß', 'İ', 'ſ', '\u212a', '.', '\\b', '\\B', '\\s', '\\S', '\\d', '\\w', '\\W', '[a-z]', '[^a-z]', '[[:alpha:]]', '\\pL', '\\p{Greek}', '\\PL', '😀', '\\x{1F600}', '^', '$', '\\A', '\\z', '\\.', '[\\x22\\x27]', '(?:ab|a)', '(a|ab)', '\\Q.*\\E'];
const quantifiers = ['', '', '*', '+', '?', '{2}', '{1,3}', '*?', '+?'];
const flags = ['', '', '(?i)', '(?s)', '(?m)', '(?i:'];

function generatedPattern(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const n = 1 + Math.floor(rand() * 4);
  let body = '';
  for (let i = 0; i < n; i++) {
    const atom = pick(atoms);
    body += atom + (['^', '$', '\\A', '\\z', '\\b', '\\B'].includes(atom) ? '' : pick(quantifiers));
  }
  const f = pick(flags);
  return f === '(?i:' ? `(?i:${body})` : f + body;
}

const alphabet = ['a', 'b', 'k', 'K', 'S', 's', 'ſ', '\u212a', 'é', 'É', 'ß', 'ẞ', 'İ', 'i', 'ı', ' ', '\t', '\n', '\r', '\v', '\u00a0', '\u2028', '.', '-', '_', '"', "'", '0', '7', 'λ', 'Σ', 'σ', 'ς', '😀', '中', '\u0301', 'AKIA', 'ghp_', '169.254.', '://', 'password=', 'secret'];

function generatedValue(rand: () => number): string {
  const n = Math.floor(rand() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}

/** Realistic values for the shipped patterns: each matches at least one of them, or nearly does. */
const shippedValues = [
  '-----BEGIN RSA PRIVATE KEY-----', '-----BEGIN PRIVATE KEY-----', 'AKIAABCDEFGHIJKLMNOP', 'xAKIAABCDEFGHIJKLMNOP', 'ghp_' + 'a'.repeat(36), 'glpat-' + 'x'.repeat(20),
  'https://hooks.slack.com/services/T000/B000/XXX', 'sk_live_' + '1'.repeat(16), 'api_key = "hunter2hunter2"', 'PASSWORD: abcdefgh', 'Password=short',
  'http://169.254.169.254/latest/meta-data/', 'http://metadata.google.internal/', 'http://localhost:8080/x', 'https://10.0.0.1/', 'https://example.com/', 'http://[::1]/',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop', 'DROP TABLE users;', 'rm -rf /', 'SELECT * FROM t', '',
];

interface Pair {
  pattern: string;
  value: string;
}

function corpus(): Pair[] {
  const rand = prng(2026);
  const pairs: Pair[] = [];
  for (const pattern of shippedPatterns()) {
    for (const value of shippedValues) pairs.push({ pattern, value });
    for (let i = 0; i < 40; i++) pairs.push({ pattern, value: generatedValue(rand) });
  }
  for (let i = 0; i < 600; i++) {
    const pattern = generatedPattern(rand);
    for (let j = 0; j < 8; j++) pairs.push({ pattern, value: generatedValue(rand) });
  }
  return pairs;
}

/** Go's regexp, through the real opa: one opa eval for the whole corpus. */
function goAnswers(pairs: Pair[], dir: string): boolean[] {
  const input = path.join(dir, 'input.json');
  writeFileSync(input, JSON.stringify({ pairs: pairs.map((p) => [p.pattern, p.value]) }));
  const out = execFileSync(opaBinary(), ['eval', '--format', 'json', '-d', fileURLToPath(new URL('./testdata/regex/regex.rego', import.meta.url)), '-i', input, 'data.toolgate.decision'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return (JSON.parse(out) as { result: Array<{ expressions: Array<{ value: boolean[] }> }> }).result[0]!.expressions[0]!.value;
}

describe('regex.find_n on re2js reads patterns as the RE2 engines OPA uses', () => {
  it('answers a generated corpus of shipped and generated patterns exactly as the wasm\'s RE2 and Go\'s regexp do', async () => {
    const pairs = corpus();
    const valid = pairs.filter((p) => {
      try {
        regexMatches(p.pattern, '');
        return true;
      } catch {
        return false;
      }
    });
    expect(pairs.length).toBeGreaterThan(5000);
    const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-regex-'));
    try {
      // The wasm's own RE2, as policy.wasm used it before the host builtin.
      // The wasm's own RE2, as policy.wasm used it before the host builtin; one pair at a time,
      // a fresh instance after any abort (instance.ts says why).
      const nativeWasm = readFileSync(buildPolicyWasm(path.join(dir, 'regex.wasm'), fileURLToPath(new URL('./testdata/regex/', import.meta.url)), ['toolgate/decision']));
      let native = await loadPolicy(nativeWasm);
      const nativeAborts: string[] = [];
      const wasmAnswers: Array<boolean | 'abort'> = [];
      for (const p of valid) {
        try {
          wasmAnswers.push((native.evaluate({ pairs: [[p.pattern, p.value]] }, 'toolgate/decision') as Array<{ result: boolean[] }>)[0]!.result[0]!);
        } catch (err) {
          wasmAnswers.push('abort');
          nativeAborts.push(`${JSON.stringify(p.pattern)}: ${String((err as Error).message ?? err)}`);
          native = await loadPolicy(nativeWasm);
        }
      }
      const go = goAnswers(valid, dir);
      const ours = valid.map((p) => regexMatches(p.pattern, p.value));
      const differ = (theirs: Array<boolean | 'abort'>) => valid.flatMap((p, i) => (theirs[i] === ours[i] ? [] : [`${JSON.stringify(p.pattern)} on ${JSON.stringify(p.value)}: re2js ${ours[i]}, other ${theirs[i]}`]));
      // One pair per evaluation it never aborts (asked the whole corpus in one evaluation, its
      // 100-entry pattern cache fails RE2's "size_ <= max_size()" check and aborts).
      expect(nativeAborts).toEqual([]);
      expect(differ(wasmAnswers), 'against the wasm RE2').toEqual([]);
      expect(differ(go), 'against Go regexp').toEqual([]);
      // Both answers are well represented.
      expect(ours.filter(Boolean).length).toBeGreaterThan(500);
      expect(ours.filter((x) => !x).length).toBeGreaterThan(500);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses, by throwing (the evaluation fails and the call is denied), what is not two strings and n = 1, or not RE2', () => {
    expect(() => regexFindN('(?=x)', 'x', 1)).toThrow();
    expect(() => regexFindN('a(', 'x', 1)).toThrow();
    expect(() => regexFindN(1, 'x', 1)).toThrow(/takes a pattern and a value string, got number and string/);
    expect(() => regexFindN('a', 'aaa', 2)).toThrow(/n = 1 only/);
    expect(regexFindN('a+', 'baab', 1)).toEqual(['aa']);
    expect(regexFindN('a*', 'b', 1)).toEqual(['']);
    expect(regexFindN('^a.c$', 'a\nc', 1)).toEqual([]);
  });
});
