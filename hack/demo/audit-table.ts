// The demo's closing table: what happened, read back from the authorizer's hash-chained audit
// trail (one JSON object a line), so what is shown is what was recorded, not what the demo believes.

interface Line {
  type: string;
  seq: number;
  time?: string;
  tool?: string;
  action?: string;
  rule?: string;
  caller?: { agent?: string; operator?: string; subject?: string };
  outcome?: string;
  approvedBy?: string[];
  deniedBy?: string[];
  stage?: string;
  code?: number;
  reason?: string;
  arguments?: Record<string, unknown>;
}

export interface AuditRow { seq: string; time: string; record: string; tool: string; result: string; why: string }

const who = (c: Line['caller']) => (c ? [c.agent, c.operator].filter(Boolean).join(' for ') || (c.subject ?? '') : '');
const people = (label: string, names: string[] | undefined) => (names?.length ? `${label} ${names.join(', ')}` : '');

export function auditRows(jsonl: string): AuditRow[] {
  const rows: AuditRow[] = [];
  for (const [i, text] of jsonl.split('\n').entries()) {
    if (text.trim() === '') continue;
    let r: Line;
    try {
      r = JSON.parse(text) as Line;
    } catch {
      throw new Error(`audit trail line ${i + 1} is not JSON: ${text.slice(0, 80)}`);
    }
    const base = { seq: String(r.seq), time: (r.time ?? '').slice(11, 19) };
    if (r.type === 'decision') {
      const recipients = Array.isArray(r.arguments?.recipients) ? ` (${r.arguments.recipients.length} recipients)` : '';
      rows.push({ ...base, record: 'decision', tool: `${r.tool ?? ''}${recipients}`, result: r.action ?? '', why: `rule ${r.rule ?? '(none)'}; ${who(r.caller)}` });
    } else if (r.type === 'approval') {
      rows.push({ ...base, record: 'approval', tool: r.tool ?? '', result: r.outcome ?? '', why: [people('approved by', r.approvedBy), people('denied by', r.deniedBy)].filter(Boolean).join('; ') || 'no decision' });
    } else if (r.type === 'refusal') {
      rows.push({ ...base, record: 'refusal', tool: r.tool ?? '', result: `refused at ${r.stage ?? '?'}`, why: r.reason ?? '' });
    }
  }
  return rows;
}

/** A fixed-width table; long reasons are cut to keep one row a line. */
export function formatAuditTable(rows: AuditRow[], maxWhy = 90): string {
  const header: AuditRow = { seq: '#', time: 'time', record: 'record', tool: 'tool', result: 'result', why: 'why' };
  const cut = (s: string) => (s.length > maxWhy ? `${s.slice(0, maxWhy - 1)}…` : s);
  const all = [header, ...rows.map((r) => ({ ...r, why: cut(r.why) }))];
  const keys = ['seq', 'time', 'record', 'tool', 'result', 'why'] as const;
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: AuditRow) => keys.map((k, i) => (i === keys.length - 1 ? r[k] : r[k].padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}
