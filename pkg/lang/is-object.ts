// The one "is this a JSON object" test (not null, not an array), for code that inspects
// parsed JSON or YAML before trusting its shape.
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
