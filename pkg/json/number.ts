// A JSON number exactly as it was written. JSON.parse turns 1234567890123456789 into
// 1234567890123456800 and 1.0 into 1, so two bodies an upstream can tell apart would look the
// same to the gate; keeping the text keeps them apart, and the text is the only form every
// upstream parser agrees on.

/** The JSON number grammar (RFC 8259 section 6), anchored. */
const numberGrammar = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const trusted = Symbol('a token the parser matched');

export class JsonNumber {
  /** The number's text as written, e.g. "1.0", "1e2", "-0", "1234567890123456789". */
  readonly text: string;

  constructor(text: string, grammarChecked?: typeof trusted) {
    if (grammarChecked !== trusted && !numberGrammar.test(text)) throw new TypeError(`not a JSON number: ${JSON.stringify(text.slice(0, 64))}`);
    this.text = text;
  }

  /** For the parser, whose tokenizer already matched the number grammar. */
  static ofToken(text: string): JsonNumber {
    return new JsonNumber(text, trusted);
  }

  /**
   * The JavaScript number when it denotes the same value as the text (1.0 → 1, 0.1 → 0.1,
   * 1e2 → 100); undefined when the nearest double is another value (1234567890123456789,
   * 0.30000000000000001, 1e400, 1e-400). "Same value" means the double's shortest round-trip
   * form (Number.prototype.toString) is numerically equal to the text, so the number reads
   * back as written; it is not the double's full binary expansion, or 0.1 would be refused.
   */
  toExactNumber(): number | undefined {
    const n = Number(this.text);
    if (!Number.isFinite(n)) return undefined;
    return decimalKey(String(n)) === decimalKey(this.text) ? n : undefined;
  }

  toString(): string {
    return this.text;
  }

  /**
   * JSON.stringify writes the number's own text (via JSON.rawJSON), so a message the gate parsed
   * and forwards upstream carries exactly the digits that were decided and digested.
   */
  toJSON(): unknown {
    return rawJson(this.text);
  }
}

const rawJson = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

/**
 * A normal form of a decimal's value: digits without leading or trailing zeros and the power of
 * ten of the last digit ("1.50e1" and "15" both give "15e0"). Zero, with either sign, is "0".
 * The exponent is a BigInt: a number's text may carry an exponent no double can hold.
 */
function decimalKey(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new TypeError(`not a decimal: ${text}`);
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  let digits = (int + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let power = BigInt(exp) - BigInt(frac.length);
  const trimmed = digits.replace(/0+$/, '');
  power += BigInt(digits.length - trimmed.length);
  digits = trimmed;
  return `${sign}${digits}e${power}`;
}
