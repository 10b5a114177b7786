// What the policy reads: one JSON serialisation of the gate's input, made on the thread that
// holds it, for in-process and worker evaluation alike; opa-wasm is handed its UTF-8 bytes (an
// ArrayBuffer it takes as serialised JSON). Handing the object itself to a worker thread would
// let the two paths read different inputs: a structured clone drops prototypes, so a toJSON
// method, a Buffer or a class instance serialises one way here and another way there. With one
// serialisation, what a worker decides on is by construction what an in-process evaluation
// decides on.
const encoder = new TextEncoder();
/**
 * A lone surrogate as JSON.stringify writes it (\ud800..\udfff, lowercase; a well-formed pair is
 * written as itself), not preceded by an escaped backslash. opa-wasm's JSON reader refuses it
 * with an abort, and aborts wear the instance out (instance.ts), so it never gets that far.
 */
const loneSurrogate = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;

/**
 * The input as the policy will read it, as JSON text; null for "no input" (opa-wasm treats any
 * falsy input so, and the policy denies it as not an object). Throws when JSON cannot represent
 * the input (a BigInt) or it holds a lone surrogate: the caller refuses the call, naming why.
 * A worker receives this text (a string is the cheapest thing to post) and encodes it there.
 */
export function policyInputText(input: unknown): string | null {
  if (!input) return null;
  const text = JSON.stringify(input) as string | undefined;
  // A function or symbol as the whole input serialises to nothing: no input, as above.
  if (text === undefined) return null;
  if (text.includes('\\ud') && loneSurrogate.test(text)) {
    throw new TypeError('it holds a lone UTF-16 surrogate (an unpaired \\ud800..\\udfff), which is not Unicode text');
  }
  return text;
}

/** The bytes opa-wasm reads for an input text (an ArrayBuffer is taken as serialised JSON). */
export function policyInputBytes(text: string | null): ArrayBuffer | null {
  if (text === null) return null;
  const bytes = encoder.encode(text);
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
}

/**
 * A data document as the JSON bytes opa-wasm's setData reads (it would serialise an object the
 * same way). Kept as bytes, not as the object: the workers receive a copy of a buffer instead of
 * a structured clone of the whole object graph, and an instance kept for replacement after a
 * failed evaluation (instance.ts) holds the compact text, not a second live copy of the data.
 * undefined stays undefined (no data: the probe reports toolgate:no-data).
 */
export function encodePolicyData(data: unknown): ArrayBuffer | undefined {
  if (data === undefined) return undefined;
  const text = JSON.stringify(data) as string | undefined;
  if (text === undefined) throw new TypeError('the data document has no JSON form');
  const bytes = encoder.encode(text);
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
}
