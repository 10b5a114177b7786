// Verifies an audit trail end to end and says where it first broke, and how:
//   line 17 (seq 16): edited — hash mismatch: ...
//   line 17 (seq 18): deleted — records 16–17 are missing before this line
//   line 17 (seq 15): inserted — seq 15 is repeated (first on line 16)
//   line 17 (seq 19): reordered — seq 19 comes before seq 16 (line 20)
//   truncated after checkpoint 3 (seq 40): records 41–44 missing
// or, when it holds, "intact to checkpoint N (seq S)" and how many records follow unsealed.
//
// What a chain alone cannot show: whole lines cut cleanly from the END. Signed checkpoints
// (checkpoint.ts) seal the chain up to themselves; a trail that does not end on a checkpoint
// was cut after its last one, or is still being written (or its writer crashed). With the head
// an independent copy names (the authorizer logs it on close; a sink holds it), `expectSeq`
// turns that into a definite verdict.
//
// Also a CLI: node authorizer/src/audit/verify.ts FILE (kubectl mcp audit verify is the full one).
import { createReadStream } from 'node:fs';
import type { Openings } from '../../../pkg/contracts/audit.ts';
import { checkCheckpoint, type TrustedKeys } from './checkpoint.ts';
import { commitmentOf } from './pseudonym.ts';
import { checkLine, headAfter, type AuditLine } from './record.ts';

/** Where lines come from: a file (a PersistentVolume is a file), or another store (the S3 sink's reader). */
export interface TrailSource {
  /** How reports name it. */
  readonly name: string;
  /** The lines in order, each with whether it ended in a newline. */
  lines(): AsyncIterable<{ text: string; terminated: boolean }>;
}

export type BreakKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'forged' | 'unreadable';

export type VerifyResult =
  | {
    ok: true;
    records: number;
    head: { seq: number; hash: string };
    version: number;
    /** The last checkpoint: its index and seq; undefined when the trail has none. */
    checkpoint?: { index: number; seq: number };
    /** Records after the last checkpoint (0 when the trail ends on one). */
    unsealed: number;
    /** Whether checkpoint signatures were checked (trusted keys given). */
    signaturesChecked: boolean;
    erasures: number;
    /** Files deleted at the end of their retention, as the expiry records name them (rotation.ts). */
    expired: Array<{ file: string; seqs: [number, number] }>;
    /** Where the trail's remaining lines start: seq 0 (its open line), or after expired files. */
    from: number;
    summary: string;
  }
  | { ok: false; line: number; seq?: number; kind: BreakKind; reason: string; summary: string };

export interface VerifyOptions {
  /** Public keys checkpoints must be signed with; without them signatures are not checked (the result says so). */
  keys?: TrustedKeys;
  /** The seq the trail must reach (its head as an independent copy names it). */
  expectSeq?: number;
}

/** Lines of a file with whether each ended in a newline; memory bounded by the longest line. */
export async function* fileLines(path: string): AsyncGenerator<{ text: string; terminated: boolean }> {
  let pending = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    pending += chunk as string;
    let start = 0;
    let i: number;
    while ((i = pending.indexOf('\n', start)) >= 0) {
      yield { text: pending.slice(start, i), terminated: true };
      start = i + 1;
    }
    pending = pending.slice(start);
  }
  if (pending !== '') yield { text: pending, terminated: false };
}

export const fileSource = (path: string): TrailSource => ({ name: path, lines: () => fileLines(path) });

/** The seq a line claims, read leniently (the line may not verify): for locating a break. */
function claimedSeq(text: string): number | undefined {
  try {
    const v = (JSON.parse(text) as { seq?: unknown }).seq;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
  } catch {
    const m = /"seq":(\d{1,15})[,}]/.exec(text);
    return m ? Number(m[1]) : undefined;
  }
}

/**
 * The commitments a record makes: its identity fields only. Never a walk of the whole line: a
 * client can send "commit:<64 hex>" as an argument value, and must not make a sound trail look
 * tampered with (nor cost the verifier a walk of arguments thousands of levels deep).
 */
function commitmentsIn(line: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown) => { if (typeof v === 'string' && v.startsWith('commit:')) out.add(v); };
  const who = (o: unknown) => {
    if (o === null || typeof o !== 'object') return;
    const r = o as { agent?: { instance?: unknown }; operator?: unknown; subject?: unknown };
    add(r.agent?.instance);
    add(r.operator);
    add(r.subject);
  };
  who(line);
  who(line.caller);
  for (const list of [line.approvedBy, line.deniedBy]) if (Array.isArray(list)) list.forEach(add);
  return out;
}

const range = (a: number, b: number) => (a === b ? `record ${a} is` : `records ${a}–${b} are`);

export async function verifyTrail(source: TrailSource, o: VerifyOptions = {}): Promise<VerifyResult> {
  let n = 0;
  let records = 0;
  let erasures = 0;
  let last: AuditLine | undefined;
  let open: AuditLine | undefined;
  let checkpoint: { index: number; seq: number } | undefined;
  /** Once the chain broke: the first break, and every later line's claimed seq (to tell a deletion from a reordering). */
  let broke: { line: number; seq?: number; kind: BreakKind; reason: string; expected?: number } | undefined;
  const seqLines = new Map<number, number>();
  const later: Array<{ line: number; seq: number }> = [];
  /** Openings erased to a pseudonym, to be matched by an erasure line (which comes after them). */
  const erased = new Map<string, { pseudonym: string; line: number; seq: number }>();
  const erasedBy = new Map<string, string>();
  /** The first line, when the open line and what followed expired: it must be accounted for by an expiry record. */
  let startedAfter: { seq: number; prev: string; line: number } | undefined;
  const expired: Array<{ file: string; seqs: [number, number]; lastHash: string }> = [];
  /** A line that checked out: counted by kind, and the chain's new head. */
  const accept = (line: AuditLine) => {
    seqLines.set(line.seq, n);
    if (line.type === 'checkpoint') checkpoint = { index: line.index, seq: line.seq };
    else if (line.type === 'expiry') expired.push({ file: line.file, seqs: line.seqs, lastHash: line.lastHash });
    else if (line.type === 'erasure') erasures++;
    else records++;
    last = line;
  };

  const fail = (kind: BreakKind, reason: string, seq?: number, expected?: number) => {
    broke = { line: n, ...(seq !== undefined ? { seq } : {}), kind, reason, ...(expected !== undefined ? { expected } : {}) };
  };

  try {
    for await (const { text, terminated } of source.lines()) {
      n++;
      if (broke) {
        const s = claimedSeq(text);
        if (s !== undefined) later.push({ line: n, seq: s });
        continue;
      }
      const seqHere = claimedSeq(text);
      if (!terminated) { fail('truncated', 'cut mid-write — the last line has no newline', seqHere); continue; }
      if (text.trim() === '') { fail('edited', 'an empty line was inserted', undefined); continue; }
      const checked = checkLine(text);
      if (!checked.ok) { fail(/hash mismatch|canonical|expected|must|JSON/.test(checked.reason) ? 'edited' : 'unreadable', checked.reason, seqHere); continue; }
      const line = checked.line;
      if (!last) {
        if (line.type !== 'open') {
          // A version 2 trail whose oldest files expired starts mid-chain; an expiry record later
          // in the chain must name the last hash before this line (checked at the end).
          if ((line as { version?: unknown }).version !== 2 || line.seq < 1) { fail('deleted', 'the trail does not start with its open line: lines were removed from its head', line.seq); continue; }
          const problem = await checkBody(line, undefined, undefined, o.keys, erased, erasedBy, n, true);
          if (problem) { fail(problem.kind, problem.reason, line.seq); continue; }
          startedAfter = { seq: line.seq, prev: line.prev, line: n };
          accept(line);
          continue;
        }
        open = line;
        last = line;
        seqLines.set(0, n);
        continue;
      }
      if (line.type === 'open') { fail('inserted', 'a second open line: trails were concatenated or lines inserted', 0); continue; }
      const head = headAfter(last);
      if (line.seq !== head.seq + 1) {
        fail(line.seq > head.seq + 1 ? 'deleted' : 'inserted', '', line.seq, head.seq + 1);
        continue;
      }
      if (line.prev !== head.prev) {
        fail('inserted', `"prev" does not match the hash of line ${n - 1}: line ${n - 1} was replaced or rehashed, or a line was inserted before this one`, line.seq);
        continue;
      }
      const problem = await checkBody(line, open, checkpoint, o.keys, erased, erasedBy, n, startedAfter !== undefined && checkpoint === undefined);
      if (problem) { fail(problem.kind, problem.reason, line.seq); continue; }
      accept(line);
    }
  } catch (err) {
    return failure({ line: n, kind: 'unreadable', reason: `cannot read ${source.name}: ${(err as Error).message}` });
  }

  if (broke) {
    const b = broke;
    if (b.expected !== undefined && b.seq !== undefined) {
      if (b.kind === 'deleted') {
        const found = later.find((l) => l.seq >= b.expected! && l.seq < b.seq!);
        if (found) return failure({ ...b, kind: 'reordered', reason: `seq ${b.seq} comes before seq ${found.seq} (line ${found.line}): lines were reordered` });
        return failure({ ...b, reason: `${range(b.expected, b.seq - 1)} missing before this line (seq ${b.seq} follows seq ${b.expected - 1})` });
      }
      const first = seqLines.get(b.seq);
      if (first !== undefined) return failure({ ...b, reason: `seq ${b.seq} is repeated (first on line ${first}): a line was inserted or duplicated` });
      return failure({ ...b, kind: 'reordered', reason: `seq ${b.seq} comes after seq ${b.expected - 1}: lines were reordered` });
    }
    return failure(b);
  }
  if (!last || (!open && !startedAfter)) return failure({ line: 1, kind: 'truncated', reason: 'the trail is empty: no open line' });
  if (startedAfter) {
    const s = startedAfter;
    const accounted = expired.find((e) => e.seqs[1] + 1 === s.seq && e.lastHash === s.prev);
    if (!accounted) {
      return failure({ line: s.line, seq: s.seq, kind: 'deleted', reason: `the trail does not start with its open line and no expiry record names the file that ended at seq ${s.seq - 1}: lines were removed from its head` });
    }
  }
  for (const [c, e] of erased) {
    if (erasedBy.get(c) !== e.pseudonym) return failure({ line: e.line, seq: e.seq, kind: 'forged', reason: `personal value ${c.slice(0, 19)}… shows pseudonym ${e.pseudonym} but no erasure line records that erasure` });
  }
  const head = headAfter(last);
  if (o.expectSeq !== undefined && head.seq < o.expectSeq) {
    const after = checkpoint ? `checkpoint ${checkpoint.index} (seq ${checkpoint.seq})` : 'the open line';
    return failure({ line: n, seq: head.seq, kind: 'truncated', reason: `truncated after ${last.type === 'checkpoint' ? after : `seq ${head.seq}`}: ${range(head.seq + 1, o.expectSeq)} missing` });
  }
  if (o.expectSeq !== undefined && head.seq > o.expectSeq) {
    return failure({ line: n, seq: head.seq, kind: 'inserted', reason: `the trail reaches seq ${head.seq}, beyond the expected head seq ${o.expectSeq}` });
  }
  const from = startedAfter?.seq ?? 0;
  const unsealed = checkpoint ? head.seq - checkpoint.seq : head.seq - from + (startedAfter ? 1 : 0);
  const version = open ? (open as { version: number }).version : 2;
  const expiredText = startedAfter ? `from seq ${from} (seqs 0–${from - 1} expired: ${expired.length} file${expired.length === 1 ? '' : 's'} deleted at the end of retention, each recorded); ` : '';
  const base = `${expiredText}${checkpoint ? `intact to checkpoint ${checkpoint.index} (seq ${checkpoint.seq})` : 'intact, no checkpoint'}`;
  const tail = unsealed > 0 ? `; seq ${head.seq - unsealed + 1}–${head.seq} after it not sealed (still being written, or cut after it)` : '';
  const sig = checkpoint && !o.keys ? '; checkpoint signatures NOT checked (no key given)' : '';
  return {
    ok: true, records, head: { seq: head.seq, hash: head.prev }, version, ...(checkpoint ? { checkpoint } : {}), unsealed,
    signaturesChecked: o.keys !== undefined, erasures, expired: expired.map(({ file, seqs }) => ({ file, seqs })), from, summary: `${base}${tail}${sig}`,
  };
}

function failure(b: { line: number; seq?: number; kind: BreakKind; reason: string }): VerifyResult {
  const where = b.kind === 'truncated' && b.reason.startsWith('truncated') ? '' : `line ${b.line}${b.seq !== undefined ? ` (seq ${b.seq})` : ''}: ${b.kind} — `;
  return { ok: false, line: b.line, ...(b.seq !== undefined ? { seq: b.seq } : {}), kind: b.kind, reason: b.reason, summary: `${where}${b.reason}` };
}

/** The checks of a chained line beyond its hash: checkpoints, openings, erasures. */
async function checkBody(
  line: AuditLine, open: AuditLine | undefined, checkpoint: { index: number } | undefined, keys: TrustedKeys | undefined,
  erased: Map<string, { pseudonym: string; line: number; seq: number }>, erasedBy: Map<string, string>, n: number,
  midChain = false,
): Promise<{ kind: BreakKind; reason: string } | undefined> {
  if (line.type === 'open') return undefined;
  const instance = open && 'instance' in open ? open.instance : undefined;
  if (line.type === 'checkpoint') {
    const index = (checkpoint?.index ?? 0) + 1;
    // The first checkpoint after expired files: its predecessors went with them.
    if (!midChain && line.index !== index) return { kind: line.index > index ? 'deleted' : 'inserted', reason: `checkpoint ${line.index} where checkpoint ${index} was due` };
    // A version 1 trail continued by a version 2 writer has no instance in its open line.
    if (instance !== undefined && line.instance !== instance) return { kind: 'forged', reason: `checkpoint of instance ${JSON.stringify(line.instance)} in the trail of ${JSON.stringify(instance)}` };
    const problem = await checkCheckpoint(line.jws, { instance: line.instance, index: line.index, seq: line.seq, prev: line.prev, keyId: line.keyId }, keys);
    return problem ? { kind: 'forged', reason: `checkpoint ${line.index}: ${problem}` } : undefined;
  }
  if (line.type === 'erasure') {
    for (const c of line.commitments) erasedBy.set(c, line.pseudonym);
    return undefined;
  }
  const personal = (line as { personal?: Openings }).personal;
  const used = commitmentsIn(line as Record<string, unknown>);
  for (const c of used) {
    const o = personal?.[c];
    if (!o) return { kind: 'edited', reason: `the personal value ${c.slice(0, 19)}… has no opening: it was removed` };
    if ('value' in o) {
      if (commitmentOf(o.salt, o.value) !== c) return { kind: 'edited', reason: `personal value edited — the opening of ${c.slice(0, 19)}… does not match its commitment` };
    } else erased.set(c, { pseudonym: o.pseudonym, line: n, seq: line.seq });
  }
  for (const c of Object.keys(personal ?? {})) {
    if (!used.has(c)) return { kind: 'inserted', reason: `an opening for ${c.slice(0, 19)}…, which the record does not commit to, was added` };
  }
  return undefined;
}

/** verifyTrail over a file. */
export const verifyAuditFile = (path: string, o?: VerifyOptions): Promise<VerifyResult> => verifyTrail(fileSource(path), o);

if (import.meta.main) {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) {
    process.stderr.write('usage: node authorizer/src/audit/verify.ts FILE   (kubectl mcp audit verify checks signatures too)\n');
    process.exit(1);
  }
  const r = await verifyAuditFile(file);
  if (r.ok) {
    process.stdout.write(`${file}: ok, ${r.records} records, head seq ${r.head.seq} hash ${r.head.hash}: ${r.summary}\n`);
    process.exit(0);
  }
  process.stderr.write(`${file}: ${r.summary}\n`);
  process.exit(1);
}
