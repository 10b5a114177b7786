// Redaction of structured arguments before anything is written (audit records, their sinks):
// every string value AND every object key passes the configured detectors (detectors.ts); the
// value under a key that names a secret (password, token, api_key, ...) goes whole; a field a
// profile or policy marks personal (a field path, `recipients[*].email`) goes whole; numbers are
// checked in their written form (a card number sent as a JSON number is still a card number).
// The walk keeps its own stack, so any depth is fine, and the result is a fresh plain value
// (a "__proto__" key stays data).
import { personalFieldPattern } from '../../api/v1alpha1/schema.ts';
import { JsonNumber } from '../json/strict.ts';
import { detectorNames, detectors, redactText, type Detector, type DetectorName } from './detectors.ts';

export interface RedactionOptions {
  /** Detectors to run; default all of detectorNames. */
  detectors?: readonly DetectorName[];
  /** Field paths whose values are personal whatever they look like: keys joined by dots, `[*]` for every element, `[N]` for one. */
  personalFields?: readonly string[];
  /** Strings are cut to this many characters after redaction (default 4096). */
  maxString?: number;
}

export interface Redacted {
  value: unknown;
  /** How many values or spans each detector replaced; "secret-key" and "personal-field" for whole values. */
  found: Record<string, number>;
}

/** Key names whose values are secrets whatever they look like. */
export const secretKey = /pass(word|wd|phrase)?$|^pwd$|token|secret|api[-_]?key|apikey|authori[sz]ation|^auth$|credential|private[-_]?key|access[-_]?key|cookie|session[-_]?key|signing[-_]?key/i;

// The same syntax the McpProfile / toolOverrides personalFields schema admits.
const personalFieldSyntax = new RegExp(personalFieldPattern);

/** A field path of a classifier (api/v1alpha1/classifier.ts) as a regex over the rendered path. */
export function fieldPathRegex(path: string): RegExp {
  if (!personalFieldSyntax.test(path)) {
    throw new Error(`personal field ${JSON.stringify(path)} is not a field path (keys joined by dots, [*] or [N] for array elements)`);
  }
  const body = path.replace(/[.$]/g, (c) => `\\${c}`).replace(/\[\*\]/g, '\\[\\d+\\]').replace(/\[(\d+)\]/g, '\\[$1\\]');
  return new RegExp(`^${body}$`);
}

/** A redactor with fixed options (the regexes compiled once). */
export function createRedactor(o: RedactionOptions = {}): (value: unknown) => Redacted {
  const use: Detector[] = (o.detectors ?? detectorNames).map((n) => {
    const d = detectors[n];
    if (!d) throw new Error(`unknown redaction detector ${JSON.stringify(n)} (known: ${detectorNames.join(', ')})`);
    return d;
  });
  const personal = (o.personalFields ?? []).map(fieldPathRegex);
  const maxString = o.maxString ?? 4096;
  return (value) => redactWith(value, use, personal, maxString);
}

type Container = unknown[] | Record<string, unknown>;

function redactWith(value: unknown, use: readonly Detector[], personal: readonly RegExp[], maxString: number): Redacted {
  const found: Record<string, number> = {};
  const count = (k: string) => { found[k] = (found[k] ?? 0) + 1; };
  const isPersonal = (path: string) => path !== '' && personal.some((re) => re.test(path));
  const text = (s: string) => {
    const r = redactText(s.toWellFormed(), use, found);
    return r.length > maxString ? `${r.slice(0, maxString).toWellFormed()}…[${r.length - maxString} more characters]` : r;
  };
  const work: Array<{ from: Container; to: Container; path: string }> = [];
  const leaf = (v: unknown, path: string, key: string | undefined): unknown => {
    if (isPersonal(path)) {
      count('personal-field');
      return '[REDACTED:personal-field]';
    }
    // A secret-named key's value goes whole, and everything under it; null and booleans say nothing.
    if (key !== undefined && secretKey.test(key) && v !== null && typeof v !== 'boolean') {
      count('secret-key');
      return '[REDACTED:secret-key]';
    }
    if (v instanceof JsonNumber) v = v.toExactNumber() ?? v.text;
    if (typeof v === 'string') return text(v);
    if (typeof v === 'number' || typeof v === 'bigint') {
      const written = String(v);
      const r = redactText(written, use, found);
      return r === written ? v : r;
    }
    if (Array.isArray(v)) {
      const to: unknown[] = [];
      work.push({ from: v, to, path });
      return to;
    }
    if (v !== null && typeof v === 'object') {
      const to: Record<string, unknown> = {};
      work.push({ from: v as Record<string, unknown>, to, path });
      return to;
    }
    return v;
  };
  const root = leaf(value, '', undefined);
  while (work.length > 0) {
    const w = work.pop() as (typeof work)[number];
    if (Array.isArray(w.from)) {
      const to = w.to as unknown[];
      w.from.forEach((v, i) => { to[i] = leaf(v, `${w.path}[${i}]`, undefined); });
      continue;
    }
    const to = w.to as Record<string, unknown>;
    for (const [k, v] of Object.entries(w.from)) {
      const path = w.path === '' ? k : `${w.path}.${k}`;
      let name = text(k);
      // Two keys redacted alike stay two keys.
      for (let n = 2; Object.hasOwn(to, name); n++) name = `${text(k)}#${n}`;
      Object.defineProperty(to, name, { value: leaf(v, path, k), enumerable: true, writable: true, configurable: true });
    }
  }
  return { value: root, found };
}
