// Generated inputs for the engine's differential tests (pool.test.ts, instance.test.ts): values a
// gate could hand the policy that two serialisation paths might read differently, or that the
// wasm's JSON reader refuses. Deterministic (seeded), so a failure names a case that reproduces.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicyWasm } from '../policy-wasm.ts';

/** A small seeded PRNG (mulberry32): the same corpus on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class WithToJSON {
  readonly secret: string;
  constructor(secret: string) {
    this.secret = secret;
  }
  toJSON(): unknown {
    return { redacted: true };
  }
}

class Plain {
  role = 'admin';
  get computed(): string {
    return 'from-prototype';
  }
}

/** Number texts at the edges of double precision, parsed as a JSON parser would. */
const numberTexts = ['9007199254740993', '-9007199254740993', '1e400', '-1e400', '5e-324', '1e-400', '-0', '0.1', '1e21', '123456789012345678901234567890', '1.7976931348623157e308', '4.9e-324'];
/** Strings where Unicode tricks live: confusables, lone surrogates, NUL, combining marks, RTL. */
const strings = ['send_email', 'ѕend_email', 'send\u200bemail', '\ud800', 'a\udc00b', '\u0000', 'e\u0301', '\u202etxt.exe', '𝐬𝐞𝐧𝐝', 'ﬀ', 'İ', '__proto__', 'constructor', 'toJSON'];

/** JSON text with own "__proto__" / "constructor" keys, parsed: JSON.parse makes them own data properties. */
const parsedTexts = [
  '{"__proto__":{"admin":true},"tool":"read"}',
  '{"a":{"__proto__":[1,2,3]}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"toJSON":"not a function"}',
  '[{"__proto__":null}]',
];

export function hostileValue(rand: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (depth > 4 || r < 0.25) {
    switch (Math.floor(rand() * 14)) {
      case 0: return JSON.parse(pick(numberTexts)) as number;
      case 1: return pick(strings);
      case 2: return JSON.parse(pick(parsedTexts)) as unknown;
      case 3: return new WithToJSON('s3cr3t');
      case 4: return new Plain();
      case 5: return Buffer.from(pick(strings));
      case 6: return new Date(Math.floor(rand() * 4e12));
      case 7: return new Map([['k', 'v']]);
      case 8: return new Uint8Array([1, 2, 3]);
      case 9: return undefined;
      case 10: return Number.NaN;
      case 11: return rand() < 0.5;
      case 12: return null;
      default: return Math.floor(rand() * 1e6) - 5e5;
    }
  }
  if (r < 0.55) {
    const n = Math.floor(rand() * 4);
    const arr: unknown[] = Array.from({ length: n }, () => hostileValue(rand, depth + 1));
    if (rand() < 0.1) arr[n + 2] = 'after a hole';
    return arr;
  }
  const obj: Record<string, unknown> = rand() < 0.3 ? (JSON.parse(pick(parsedTexts)) as Record<string, unknown>) : {};
  const n = 1 + Math.floor(rand() * 4);
  // Own data properties, as JSON.parse makes them (assigning "__proto__" would set the prototype).
  for (let i = 0; i < n; i++) Object.defineProperty(obj, pick(strings), { value: hostileValue(rand, depth + 1), enumerable: true, writable: true, configurable: true });
  return obj;
}

/** A gate-shaped input whose arguments are hostile. */
export function hostileInput(rand: () => number): Record<string, unknown> {
  return {
    server: rand() < 0.5 ? 'gmail' : 'ѕlack',
    tool: 'send_email',
    arguments: hostileValue(rand),
    caller: { agent: 'agent-1', operator: 'alice', roles: ['member'], scopes: [] },
  };
}

/** Whether any string (key or value) in a JSON-serialisable value is not well-formed Unicode. */
export function holdsLoneSurrogate(value: unknown): boolean {
  const parsed = JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
  const walk = (v: unknown): boolean => {
    if (typeof v === 'string') return !v.isWellFormed();
    if (Array.isArray(v)) return v.some(walk);
    if (v && typeof v === 'object') return Object.entries(v).some(([k, x]) => !k.isWellFormed() || walk(x));
    return false;
  };
  return walk(parsed);
}

/**
 * policy.wasm-shaped echo policy (testdata/echo): every call is denied with one reason,
 * json.marshal(input), so tests can read what the policy was handed. Built with the real opa.
 */
export function buildEchoWasm(): Buffer {
  const tmp = mkdtempSync(path.join(tmpdir(), 'toolgate-echo-'));
  try {
    return readFileSync(buildPolicyWasm(path.join(tmp, 'echo.wasm'), fileURLToPath(new URL('./echo/', import.meta.url))));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
