import { describe, expect, it } from 'vitest';
import { auditRows, formatAuditTable } from './audit-table.ts';

const trail = [
  { type: 'open', seq: 0, time: '2026-12-02T02:30:00.000Z' },
  { type: 'decision', seq: 1, time: '2026-12-02T02:30:01.000Z', tool: 'send_bulk_message', action: 'require_approval', rule: 'bulk-needs-marketing-lead', caller: { agent: 'campaign-agent', operator: 'alice' }, arguments: { recipients: Array.from({ length: 340 }, (_, i) => `C-${i}`) } },
  { type: 'approval', seq: 2, time: '2026-12-02T02:30:09.000Z', tool: 'send_bulk_message', outcome: 'released', approvedBy: ['mia'], deniedBy: [] },
  { type: 'approval', seq: 3, time: '2026-12-02T02:30:10.000Z', tool: 'modify_booking', outcome: 'denied', approvedBy: [], deniedBy: ['fred'] },
  { type: 'refusal', seq: 4, time: '2026-12-02T02:30:11.000Z', stage: 'authenticate', reason: 'the token carries forbidden scope full_access' },
].map((l) => JSON.stringify(l)).join('\n');

describe('the demo audit table', () => {
  it('has one row per decision, approval outcome and refusal, in trail order (the open line is not a row)', () => {
    const rows = auditRows(trail);
    expect(rows.map((r) => [r.seq, r.record, r.result])).toEqual([
      ['1', 'decision', 'require_approval'], ['2', 'approval', 'released'], ['3', 'approval', 'denied'], ['4', 'refusal', 'refused at authenticate'],
    ]);
    expect(rows[0]).toMatchObject({ time: '02:30:01', tool: 'send_bulk_message (340 recipients)', why: 'rule bulk-needs-marketing-lead; campaign-agent for alice' });
    expect(rows[1]!.why).toBe('approved by mia');
    expect(rows[2]!.why).toBe('denied by fred');
  });

  it('aligns columns and cuts long reasons', () => {
    const table = formatAuditTable(auditRows(trail), 20).split('\n');
    expect(table[0]).toMatch(/^#\s+time\s+record\s+tool\s+result\s+why$/);
    expect(new Set(table.slice(2).map((l) => l.indexOf('02:30')))).toEqual(new Set([3]));
    expect(table.at(-1)).toContain('the token carries f…');
  });

  it('names the line that is not JSON', () => {
    expect(() => auditRows(`${trail}\n{not json`)).toThrow(/audit trail line 6 is not JSON/);
  });
});
