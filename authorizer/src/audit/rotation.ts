// Rotation and retention of the audit file on its volume (compliance row A11).
//
// The trail is one chain over several files: the active file (AUDIT_FILE) and the rotated ones
// beside it, `<AUDIT_FILE>.<first seq, 12 digits>`, which sort in chain order. The trail rotates
// the active file when it reaches rotation.maxBytes or, with rotation.daily, when a record is
// due on a later UTC day than the file's first line; the next line simply continues the chain
// (its prev is the last hash of the file before), so the files read one after another verify as
// one trail.
//
// A rotated file is deleted once every line in it is past its retention (12 months; 36 for a
// record with a long-retention label such as health-data, sinks/retention.ts), oldest first and
// only while the files stay contiguous: a file younger than its retention stops the sweep, so
// what remains is always an unbroken tail of the chain. Before a file is deleted an expiry
// record naming it (file, seq range, hash of its last line, how many lines, kept until) is
// chained and on disk: the verifier reads the remaining files from the first line that names an
// expired file's last hash as its prev, and a head no expiry record accounts for is reported as
// deleted, as before.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { addMonths, defaultRetention, retentionMonthsOf, type RetentionPolicy } from './sinks/retention.ts';
import { fileLines, type TrailSource } from './verify.ts';

export interface RotationSettings {
  /** Rotate once the active file holds this many bytes (default 64 MiB). */
  maxBytes?: number;
  /** Rotate when the UTC day changes (default true). */
  daily?: boolean;
}

export const defaultRotation = { maxBytes: 64 * 1024 * 1024, daily: true } as const;

const seqDigits = 12;

/** The name a rotated file gets: the active file's, then its first seq. */
export const segmentPath = (file: string, firstSeq: number): string => `${file}.${String(firstSeq).padStart(seqDigits, '0')}`;

/** The rotated files of a trail, oldest first (full paths). */
export async function rotatedFiles(file: string): Promise<string[]> {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const digits = new RegExp(`^\\d{${seqDigits}}$`);
  return names.filter((n) => n.startsWith(prefix) && digits.test(n.slice(prefix.length))).sort().map((n) => join(dir, n));
}

/** Every file of the trail in chain order: the rotated ones, then the active one (when it exists). */
export async function trailFiles(file: string): Promise<string[]> {
  const rotated = await rotatedFiles(file);
  const active = await stat(file).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false;
    throw err;
  });
  return active ? [...rotated, file] : rotated;
}

/** The trail as one source: its rotated files and the active one, read in order. */
export function rotatedFileSource(file: string): TrailSource {
  return {
    name: file,
    async *lines() {
      for (const f of await trailFiles(file)) yield* fileLines(f);
    },
  };
}

/** What the sweep needs to know of a rotated file. */
export interface SegmentInfo {
  path: string;
  /** Seq of its first and last line, hash of its last line, how many lines. */
  first: number;
  last: number;
  lastHash: string;
  lines: number;
  /** When its last line reaches the end of its retention. */
  keptUntil: Date;
}

/**
 * One pass over a rotated file: its seq range, last hash and the latest retention end of any of
 * its lines. A line that cannot be read keeps the file for the long period (never deleted early).
 */
export async function segmentInfo(path: string, policy: RetentionPolicy = defaultRetention): Promise<SegmentInfo | undefined> {
  let first: number | undefined;
  let last = 0;
  let lastHash = '';
  let lines = 0;
  let keptUntil = new Date(0);
  for await (const { text } of fileLines(path)) {
    lines++;
    let line: { seq?: unknown; hash?: unknown; time?: unknown; type?: unknown };
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      return undefined;
    }
    if (typeof line.seq !== 'number' || typeof line.hash !== 'string' || typeof line.time !== 'string') return undefined;
    const time = new Date(line.time);
    if (Number.isNaN(time.getTime())) return undefined;
    first ??= line.seq;
    last = line.seq;
    lastHash = line.hash;
    const until = addMonths(time, retentionMonthsOf(text, policy));
    if (until > keptUntil) keptUntil = until;
  }
  if (first === undefined || lastHash === '') return undefined;
  return { path, first, last, lastHash, lines, keptUntil };
}

/**
 * The rotated files that may go now: the oldest ones, in order, up to the first that must stay
 * (or cannot be read), so the files left are an unbroken tail of the chain.
 */
export function expiredSegments(segments: ReadonlyArray<SegmentInfo | undefined>, now: Date): SegmentInfo[] {
  const out: SegmentInfo[] = [];
  for (const s of segments) {
    if (!s || s.keptUntil > now) break;
    out.push(s);
  }
  return out;
}

/** Whether the active file is due to rotate before a line is appended at `now`. */
export function rotationDue(o: { size: number; firstLineDay: string | undefined; now: Date; settings: RotationSettings }): boolean {
  if (o.size === 0) return false;
  if (o.size >= (o.settings.maxBytes ?? defaultRotation.maxBytes)) return true;
  return (o.settings.daily ?? defaultRotation.daily) && o.firstLineDay !== undefined && utcDay(o.now) !== o.firstLineDay;
}

export const utcDay = (d: Date): string => d.toISOString().slice(0, 10);
