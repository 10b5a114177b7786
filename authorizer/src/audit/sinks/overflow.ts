// The record a sink's overflow leaves in the chain. A bounded buffer must drop lines when its
// sink stays down; the drop is declared by a record chained like every other, which names the
// sink, how many lines it did not get and their seqs, so a verifier reading that sink's copy sees
// a gap that was declared, and the file shows what the sink lacks.
//
// The line shape is in pkg/contracts/audit.ts (auditLineContracts, version 2) beside the others,
// so checkLine and the verifier accept it; checkOverflowLine lets the trail continue a chain
// whose last line is one (a restart after a close that declared a dead sink's backlog).
import { canonicalJson } from '../../../../pkg/json/canonical.ts';
import { contract } from '../../../../pkg/contracts/contract.ts';
import { AuditOverflowBodySchema, AuditOverflowSchema, type AuditOverflow, type AuditOverflowBody } from '../../../../pkg/contracts/audit.ts';
import { hashOf } from '../record.ts';

export { AuditOverflowBodySchema, AuditOverflowSchema, type AuditOverflow, type AuditOverflowBody };
export const auditOverflowContract = contract('overflow record', AuditOverflowSchema);

/**
 * An overflow line as the trail writes it (shape, hash, canonical form) or what is wrong with it;
 * undefined when the line is no overflow record at all.
 */
export function checkOverflowLine(text: string): { ok: true; line: AuditOverflow } | { ok: false; reason: string } | undefined {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return undefined;
  }
  if ((line as { type?: unknown } | null)?.type !== 'overflow') return undefined;
  const problem = auditOverflowContract.problem(line);
  if (problem) return { ok: false, reason: problem };
  const l = line as AuditOverflow;
  if (hashOf(l as unknown as Record<string, unknown>) !== l.hash) return { ok: false, reason: 'overflow record: hash mismatch: the line\'s contents were changed after it was written' };
  if (canonicalJson(l as never) !== text) return { ok: false, reason: 'overflow record: not in the canonical form the trail writes' };
  return { ok: true, line: l };
}

/** Dropped seqs, kept as merged inclusive ranges (a drop is usually one run). */
export class SeqRanges {
  readonly ranges: Array<[number, number]> = [];
  count = 0;

  add(seq: number): void {
    this.count++;
    const last = this.ranges.at(-1);
    if (last && seq === last[1] + 1) last[1] = seq;
    else this.ranges.push([seq, seq]);
  }

  /** Hands over what was collected and starts empty. */
  take(): { count: number; ranges: Array<[number, number]> } {
    const taken = { count: this.count, ranges: this.ranges.splice(0) };
    this.count = 0;
    return taken;
  }
}
