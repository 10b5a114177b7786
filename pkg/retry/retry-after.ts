// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, the latter in any of the three
// forms recipients must accept (§5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime
// forms). Parsed strictly: Date.parse would take "2026" or "5 soon" for a date.

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const month = `(${months.join('|')})`;
const time = '(\\d{2}):(\\d{2}):(\\d{2})';
const imfFixdate = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${month} (\\d{4}) ${time} GMT$`);
const rfc850Date = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${month}-(\\d{2}) ${time} GMT$`);
const asctimeDate = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${month} ( \\d|\\d{2}) ${time} (\\d{4})$`);

/**
 * The delay a Retry-After header asks for, in ms (0 for a date in the past); undefined when the
 * header is absent or is neither form, so the caller falls back to its own backoff.
 */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, Number.MAX_SAFE_INTEGER);
  const at = httpDate(value, now);
  return at === undefined ? undefined : Math.max(0, at - now);
}

/** Milliseconds since the epoch of an HTTP-date; undefined unless it is one. */
export function httpDate(value: string, now = Date.now()): number | undefined {
  let m = imfFixdate.exec(value);
  if (m) return utc(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  m = rfc850Date.exec(value);
  if (m) {
    // §5.6.7: a two-digit year more than 50 years ahead is the latest such year in the past.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  }
  m = asctimeDate.exec(value);
  if (m) return utc(Number(m[6]), m[1]!, m[2]!.trim(), m[3]!, m[4]!, m[5]!);
  return undefined;
}

function utc(year: number, monthName: string, day: string, hour: string, minute: string, second: string): number | undefined {
  const mon = months.indexOf(monthName);
  const [d, h, min, s] = [Number(day), Number(hour), Number(minute), Number(second)];
  // 60 admits a leap second; anything else out of range (31 Feb, 25:00) is not a date.
  if (h > 23 || min > 59 || s > 60) return undefined;
  const at = Date.UTC(year, mon, d, h, min, s);
  return new Date(Date.UTC(year, mon, d)).getUTCDate() === d ? at : undefined;
}
