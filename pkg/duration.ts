// The one duration syntax of toolgate: the one the CRDs validate (api/v1alpha1 `Duration`,
// Kubernetes-style `30s`, `15m`, `1h`, `1h30m`, `1.5h`, `250ms`). The pattern and length limit
// are read from that schema, so a value the API server admits always parses here and the
// kubectl plugin's flags take exactly what the policies take.
import { Duration } from '../api/v1alpha1/schema.ts';

const schema = Duration('a duration');
const pattern = new RegExp(schema.pattern ?? '');
const maxLength = schema.maxLength ?? 32;
const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

export const durationExamples = '30s, 15m, 1h or 1h30m';

/**
 * Milliseconds of a duration such as `30s`, `1h` or `1h30m`. Throws a TypeError naming the
 * value (and `what` it is, e.g. "--wait" or "spec.identity.clockSkew") and the expected form.
 */
export function parseDuration(value: string, what?: string): number {
  const of = what ? ` for ${what}` : '';
  if (value.length > maxLength) throw new TypeError(`invalid duration${of}: ${JSON.stringify(value.slice(0, maxLength))}… is longer than ${maxLength} characters`);
  if (!pattern.test(value)) {
    throw new TypeError(`invalid duration ${JSON.stringify(value)}${of}: expected numbers with units (ms, s, m, h), for example ${durationExamples}`);
  }
  let total = 0;
  for (const m of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(m[1]) * unitMs[m[2]!]!;
  return Math.round(total);
}
