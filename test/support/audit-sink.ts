// Test helpers for the audit sinks: an in-memory sink that can be taken down and brought back
// (a real AuditSink, not a mock of one: it keeps what it was given), sample decisions, and a
// chain check that also covers line kinds checkLine does not know yet (overflow).
import type { AuditSink } from '../../authorizer/src/audit/sinks/sink.ts';
import { hashOf } from '../../authorizer/src/audit/record.ts';
import type { DecisionRecord } from '../../authorizer/src/gate/decision-path.ts';

export class MemorySink implements AuditSink {
  readonly name: string;
  readonly lines: string[] = [];
  attempts = 0;
  /** While set, every write fails with this error. */
  failWith: Error | undefined;
  /** While set, every write waits this long first. */
  delayMs = 0;
  closed = false;

  constructor(name = 'memory') {
    this.name = name;
  }

  async write(lines: readonly string[]): Promise<void> {
    this.attempts++;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith) throw this.failWith;
    this.lines.push(...lines);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  get seqs(): number[] {
    return this.lines.map((l) => (JSON.parse(l) as { seq: number }).seq);
  }
}

export function sampleDecision(i: number, labels: string[] = ['pii']): DecisionRecord {
  return {
    durationMs: 0.1,
    call: {
      server: 'gmail', tool: 'read_email', arguments: { id: String(i) }, frontEnd: 'proxy', sessionId: 's-1', requestId: i,
      caller: { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: ['reader'], scopes: ['mail:read'], tokenId: 'jti' },
    },
    verdict: {
      decisionId: `d-${i}`, revision: 'rev-1', effect: 'proceed',
      decision: { action: 'allow', rule: 'Allow read-only', reasons: ['read-only'], labels, annotations: {}, verb: 'get', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } },
    },
  };
}

/**
 * Where a contiguous run of chained lines (open line first, or any run) breaks: a hash that does
 * not match its line, a seq that does not follow, a prev that is not the line before's hash.
 */
export function chainBreak(lines: readonly string[]): string | undefined {
  let prev: { seq: number; next: string } | undefined;
  for (const [i, text] of lines.entries()) {
    const l = JSON.parse(text) as { type: string; seq: number; prev?: string; hash: string; genesis?: string };
    if (hashOf(l) !== l.hash) return `line ${i + 1}: hash mismatch`;
    if (prev && (l.seq !== prev.seq + 1 || l.prev !== prev.next)) return `line ${i + 1}: seq ${l.seq} / prev do not follow seq ${prev.seq}`;
    prev = { seq: l.seq, next: l.type === 'open' ? l.genesis! : l.hash };
  }
  return undefined;
}

/** The seqs an overflow record of `sink` declares dropped, from the trail's lines. */
export function declaredDrops(lines: readonly string[], sink: string): number[] {
  const seqs: number[] = [];
  for (const text of lines) {
    const l = JSON.parse(text) as { type: string; sink?: string; seqs?: Array<[number, number]>; dropped?: number };
    if (l.type !== 'overflow' || l.sink !== sink) continue;
    let n = 0;
    for (const [from, to] of l.seqs!) for (let s = from; s <= to; s++, n++) seqs.push(s);
    if (n !== l.dropped) throw new Error(`overflow record says ${l.dropped} dropped but names ${n} seqs`);
  }
  return seqs;
}
