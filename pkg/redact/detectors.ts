// Detectors of personal data and secrets in free text, shared by the audit record and (through
// looksSecret) the approvals redactor. Each finds spans in a string; the redactor replaces each
// span with "[REDACTED:<name>]". Checksummed kinds (payment cards: Luhn; IBAN: ISO 13616 mod 97)
// are confirmed by their checksum, so an order number that merely has 16 digits stays readable.
//
// National ids covered (docs/compliance.md lists them): US Social Security Number (AAA-GG-SSSS,
// excluding the never-issued 000, 666 and 9xx areas, 00 group and 0000 serial) and UK National
// Insurance Number (two prefix letters from the HMRC-allowed set, six digits, suffix A-D).
//
// Order matters: secrets first (a JWT contains digit runs a phone detector would cut into), then
// checksummed numbers, then ids, e-mail and phone, and the high-entropy catch-all last.

export const detectorNames = ['private-key', 'jwt', 'bearer', 'aws-access-key', 'api-token', 'payment-card', 'iban', 'us-ssn', 'uk-nino', 'email', 'phone', 'high-entropy'] as const;
export type DetectorName = (typeof detectorNames)[number];

/**
 * The detectors of credentials (not of personal data): what the approvals redactor applies, so
 * approvers still see whom a held call reaches (an e-mail address, a phone number) but never a
 * key. One list here, so the audit record and the ApprovalRequest cannot disagree on what a secret is.
 */
export const secretDetectorNames: readonly DetectorName[] = ['private-key', 'jwt', 'bearer', 'aws-access-key', 'api-token', 'high-entropy'];

export interface Span {
  start: number;
  end: number;
}

export interface Detector {
  name: DetectorName;
  /** Spans of `text` this detector recognises, in order, not overlapping. */
  find(text: string): Span[];
}

/** A cheap test that the detector cannot match (most strings hold no '@', no 13 digits, ...): the regexes run on the decision path. */
type Quick = (text: string) => boolean;
const always: Quick = () => true;
const digitCount = (text: string, atLeast: number): boolean => {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++n >= atLeast) return true;
  }
  return false;
};

/** Spans of every match of a global regex that `accept` confirms. */
function matcher(name: DetectorName, re: RegExp, accept: (match: string) => boolean = () => true, quick: Quick = always): Detector {
  return {
    name,
    find(text) {
      if (!quick(text)) return [];
      const spans: Span[] = [];
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        if (accept(m[0])) spans.push({ start: m.index, end: m.index + m[0].length });
        if (m[0].length === 0) re.lastIndex++;
      }
      return spans;
    },
  };
}

const digitsOf = (s: string) => s.replace(/\D/g, '');

/** Luhn (ISO/IEC 7812-1) checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** ISO 13616 IBAN check: the country and check digits moved to the end, letters as 10..35, mod 97 is 1. */
export function ibanValid(candidate: string): boolean {
  const iban = candidate.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const v = ch >= 'A' ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    rest = v > 9 ? (rest * 100 + v) % 97 : (rest * 10 + v) % 97;
  }
  return rest === 1;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * A long unbroken token mixing upper case, lower case and digits, with the entropy of random
 * text, is a key far more often than prose; hex digests (no upper case) and sentences (spaces)
 * stay readable.
 */
export function looksRandom(s: string): boolean {
  return s.length >= 32 && /^[A-Za-z0-9+/_=.-]+$/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s) && entropy(s) >= 3.5;
}

/** A phone number: 9-15 digits (E.164's limit), written with a + or separators (a bare digit run is an id), not an IPv4 address. */
const phoneLike = (m: string) => {
  const n = digitsOf(m).length;
  return n >= 9 && n <= 15 && /[ .()+-]/.test(m) && !/^\d{1,3}(\.\d{1,3}){3}$/.test(m);
};

/**
 * Like matcher, for kinds whose checksum decides where they end: the longest prefix of each
 * match, cut after a character `counts`, with between min and max counted characters, that
 * `valid` accepts (a card followed by a group of other digits, an IBAN followed by a word).
 */
function checksummed(name: DetectorName, re: RegExp, counts: RegExp, min: number, max: number, valid: (s: string) => boolean, quick: Quick = always): Detector {
  return {
    name,
    find(text) {
      if (!quick(text)) return [];
      const spans: Span[] = [];
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const cuts: number[] = [];
        let n = 0;
        for (let i = 0; i < m[0].length; i++) {
          // A cut only where the number ends or a group does: a shorter prefix of one long
          // digit run that happens to pass the checksum is not a card.
          const next = m[0][i + 1];
          if (counts.test(m[0][i] as string) && ++n >= min && n <= max && (next === undefined || !counts.test(next))) cuts.push(i + 1);
        }
        const end = cuts.reverse().find((c) => valid(m[0].slice(0, c)));
        if (end !== undefined) spans.push({ start: m.index, end: m.index + end });
      }
      return spans;
    },
  };
}

export const detectors: Readonly<Record<DetectorName, Detector>> = {
  'private-key': matcher('private-key', /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, undefined, (t) => t.includes('-----BEGIN ')),
  jwt: matcher('jwt', /\beyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,65536}\.[A-Za-z0-9_-]*/g, undefined, (t) => t.includes('eyJ')),
  bearer: matcher('bearer', /\b(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, undefined, (t) => t.length >= 13 && /bearer|basic|token/i.test(t)),
  'aws-access-key': matcher('aws-access-key', /\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b/g, undefined, (t) => /A(?:KI|SI|GP|ID|RO)A/.test(t)),
  'api-token': matcher('api-token', /\b(?:(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})/g, undefined, (t) => t.length >= 13 && /[spr]k[-_]|gh[pousr]_|github_pat_|xox|AIza/.test(t)),
  'payment-card': checksummed('payment-card', /(?<![\d-])\d(?:[ -]?\d){12,}/g, /\d/, 13, 19, (m) => luhnValid(digitsOf(m)), (t) => digitCount(t, 13)),
  iban: checksummed('iban', /\b[A-Z]{2}\d{2}(?: ?[A-Za-z0-9]){11,}/g, /[A-Za-z0-9]/, 15, 34, ibanValid, (t) => /[A-Z]{2}\d{2}/.test(t)),
  'us-ssn': matcher('us-ssn', /(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)/g, undefined, (t) => t.includes('-') && digitCount(t, 9)),
  'uk-nino': matcher('uk-nino', /\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g, undefined, (t) => digitCount(t, 6)),
  // Bounded repetitions (RFC 5321's 64-character local part, 253-character domain): an
  // unbounded `[...]+@` rescans the rest of a long string from every position (quadratic time
  // on a megabyte of letters, on the decision path).
  email: matcher('email', /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z])/g, undefined, (t) => t.includes('@')),
  // A run of digits with the separators numbers are written with, 9-15 digits (E.164's limit);
  // a date (8 digits) or a version does not qualify.
  phone: matcher('phone', /(?<![\w.+-])\+?\(?\d{1,4}\)?(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\w-])/g, phoneLike, (t) => digitCount(t, 9)),
  'high-entropy': matcher('high-entropy', /[A-Za-z0-9+/_=.-]{32,}/g, looksRandom, (t) => t.length >= 32),
};

/**
 * Replaces every span the given detectors find in `text`, detector by detector (so a later one
 * never sees what an earlier one took). Counts what it replaced by detector.
 */
export function redactText(text: string, use: readonly Detector[], found: Partial<Record<DetectorName, number>>): string {
  let out = text;
  for (const d of use) {
    const spans = d.find(out);
    if (spans.length === 0) continue;
    let next = '';
    let at = 0;
    for (const s of spans) {
      next += `${out.slice(at, s.start)}[REDACTED:${d.name}]`;
      at = s.end;
    }
    out = next + out.slice(at);
    found[d.name] = (found[d.name] ?? 0) + spans.length;
  }
  return out;
}
