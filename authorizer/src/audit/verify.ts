// Verifies an audit trail end to end: the open line first, then every record's hash, seq and
// prev against the line before it. Also a CLI:  node authorizer/src/audit/verify.ts FILE
// (exit 0 when the chain holds; 1 with the line and what broke otherwise).
//
// What a hash chain alone cannot show: whole lines cut cleanly from the END of the file. The
// head (seq, hash) this returns — and the trail logs on close — is the anchor to compare with.
import { createReadStream } from 'node:fs';
import { checkLine, headAfter, type AuditLine } from './record.ts';

export type VerifyResult =
  | { ok: true; records: number; head: { seq: number; hash: string } }
  | { ok: false; line: number; reason: string };

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

export async function verifyAuditFile(path: string): Promise<VerifyResult> {
  let n = 0;
  let records = 0;
  let last: AuditLine | undefined;
  try {
    for await (const { text, terminated } of fileLines(path)) {
      n++;
      const fail = (reason: string): VerifyResult => ({ ok: false, line: n, reason });
      if (!terminated) return fail('the last line has no newline: the trail was cut mid-write or its tail edited');
      if (text.trim() === '') return fail('empty line');
      const checked = checkLine(text);
      if (!checked.ok) return fail(checked.reason);
      const line = checked.line;
      if (!last) {
        if (line.type !== 'open') return fail('the trail does not start with its open line: lines were removed from its head');
        last = line;
        continue;
      }
      if (line.type === 'open') return fail('a second open line: trails were concatenated or lines reordered');
      const head = headAfter(last);
      if (line.seq !== head.seq + 1) {
        return fail(`seq ${line.seq} follows seq ${head.seq} (expected ${head.seq + 1}): ${line.seq > head.seq + 1 ? 'lines were deleted' : 'lines were reordered or duplicated'} before this line`);
      }
      if (line.prev !== head.prev) return fail(`"prev" does not match the hash of line ${n - 1}: the previous line was replaced or lines were reordered`);
      records++;
      last = line;
    }
  } catch (err) {
    return { ok: false, line: n, reason: `cannot read ${path}: ${(err as Error).message}` };
  }
  if (!last) return { ok: false, line: 1, reason: 'the file is empty: no open line' };
  return { ok: true, records, head: { seq: last.seq, hash: last.hash } };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) {
    process.stderr.write('usage: node authorizer/src/audit/verify.ts FILE\n');
    process.exit(1);
  }
  const r = await verifyAuditFile(file);
  if (r.ok) {
    process.stdout.write(`${file}: ok, ${r.records} records, head seq ${r.head.seq} hash ${r.head.hash}\n`);
    process.exit(0);
  }
  process.stderr.write(`${file}: line ${r.line}: ${r.reason}\n`);
  process.exit(1);
}
