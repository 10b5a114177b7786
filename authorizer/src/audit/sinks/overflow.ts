// The record a sink's overflow leaves in the chain. A bounded buffer must drop lines when its
// sink stays down; the drop is declared by a record chained like every other, which names the
// sink, how many lines it did not get and their seqs, so a verifier reading that sink's copy sees
// a gap that was declared, and the file shows what the sink lacks.
//
// The line shape belongs in pkg/contracts/audit.ts (auditLineContracts) beside the others, so
// checkLine and the verifier accept it; the schema is here until that file takes it.
import { Type, type Static } from '@sinclair/typebox';

export const AuditOverflowBodySchema = Type.Object({
  type: Type.Literal('overflow'),
  time: Type.String({ description: 'UTC time, as Date.toISOString writes it.' }),
  sink: Type.String({ minLength: 1, description: 'The sink that did not get the lines.' }),
  dropped: Type.Integer({ minimum: 1, description: 'How many lines the sink did not get.' }),
  seqs: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]), { description: 'The seqs dropped, as inclusive [from, to] ranges in order.' }),
  reason: Type.String({ description: 'Why: buffer full, or still unsent when the trail closed.' }),
}, { additionalProperties: false });
export type AuditOverflowBody = Static<typeof AuditOverflowBodySchema>;

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
