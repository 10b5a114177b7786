// How long records are kept: 12 months by default, 36 for records about health data (GDPR
// Art. 9 special category; many health-record laws ask for longer). A policy says a call
// touches health data the way it says anything about a call: by classification labels (a
// profile's or the policy's own classifiers and toolOverrides); the decision record carries
// them. A record with any of the long-retention labels is kept for the long period; an object
// holding several records is kept as long as the longest of them.

export interface RetentionPolicy {
  /** Default 12. */
  months: number;
  /** Default 36. */
  longMonths: number;
  /** Labels that ask for the long period. Default health, health-data, phi. */
  longLabels: ReadonlySet<string>;
}

export const defaultRetention: RetentionPolicy = { months: 12, longMonths: 36, longLabels: new Set(['health', 'health-data', 'phi']) };

/** Months one chained line is to be kept, from its labels (a line that is not JSON: the long period, to be safe). */
export function retentionMonthsOf(line: string, policy: RetentionPolicy = defaultRetention): number {
  let labels: unknown;
  try {
    // Format 2 keeps them under classification; format 1 at the top.
    const record = JSON.parse(line) as { labels?: unknown; classification?: { labels?: unknown } };
    labels = record.classification?.labels ?? record.labels;
  } catch {
    return Math.max(policy.months, policy.longMonths);
  }
  const long = Array.isArray(labels) && labels.some((l) => typeof l === 'string' && policy.longLabels.has(l));
  return long ? Math.max(policy.months, policy.longMonths) : policy.months;
}

/** `months` calendar months after `from` (UTC); the end of a shorter month when the day does not exist. */
export function addMonths(from: Date, months: number): Date {
  const d = new Date(from.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}
