// Latency summaries and plain-text tables for the benchmark report.
import type { LoadSpan } from './report.ts';

export interface Summary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  /** Completed operations per second of wall time. */
  perSecond: number;
  /** The machine's 1-minute load average when the measured phase started and ended. */
  loadAverage?: LoadSpan;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(latenciesMs: Float64Array, wallMs: number): Summary {
  const sorted = Float64Array.from(latenciesMs).sort();
  return { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), perSecond: sorted.length / (wallMs / 1000) };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
export const rate = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} k/s` : `${x.toFixed(0)}/s`);
export const bytes = (x: number) => (x >= 1024 * 1024 ? `${(x / 1024 / 1024).toFixed(2)} MiB` : `${(x / 1024).toFixed(1)} KiB`);

/** Renders rows as a fixed-width table with a title line. */
export function table(title: string, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [`\n${title}`, line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
