// Pure presentation and bookkeeping for approval requests: kubectl-style ages and tables, and
// the approval count a human wants to see ("1/2 approvals").
import type { ApprovalRequest, Phase } from '../api/v1alpha1/index.ts';
import { evaluateApproval } from '../pkg/approvals/phase.ts';

export const terminalPhases: readonly Phase[] = ['Approved', 'Denied', 'Expired', 'Consumed', 'Superseded'];

/** The phase as shown: a request the operator has not looked at yet is Pending. */
export const phaseOf = (ar: ApprovalRequest): Phase => ar.status?.phase ?? 'Pending';

/** kubectl's duration.HumanDuration: short, coarser the longer ago. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(s / 3600);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 === 0 || y >= 8 ? `${y}y` : `${y}y${d % 365}d`;
}

/** "in 59m" or "3m ago": when the request expires relative to now. */
export function relativeTime(iso: string | undefined, now: number): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  return t >= now ? `in ${humanDuration(t - now)}` : `${humanDuration(now - t)} ago`;
}

export function age(iso: string | Date | undefined, now: number): string {
  const t = iso instanceof Date ? iso.getTime() : iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

export interface Tally {
  /** Distinct users whose approval counts: in an approver group (per their recorded groups), not the requester. */
  approvedBy: string[];
  deniedBy: string[];
  quorum: number;
}

/**
 * Counts decisions the way the operator decides phases. Only used to say how far a request is
 * and whether a phase change is due; the phase itself is always the operator's.
 */
export function tally(ar: ApprovalRequest): Tally {
  // Who counts toward the quorum is the operator's computation, not a copy of it.
  const { approvedBy } = evaluateApproval(ar, Number.NEGATIVE_INFINITY);
  const deniedBy = [...new Set((ar.status?.decisions ?? []).filter((d) => d.decision === 'deny').map((d) => d.user))];
  return { approvedBy, deniedBy, quorum: ar.spec.quorum };
}

/** The phase the decisions call for while the request is still open. */
export function duePhase(ar: ApprovalRequest): Phase {
  const t = tally(ar);
  if (t.deniedBy.length > 0) return 'Denied';
  return t.approvedBy.length >= t.quorum ? 'Approved' : 'Pending';
}

export const approvalsColumn = (ar: ApprovalRequest): string => `${tally(ar).approvedBy.length}/${ar.spec.quorum}`;

/** Left-aligned columns separated by three spaces, as kubectl prints them. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export interface TableOptions {
  allNamespaces: boolean;
  wide: boolean;
  now: number;
}

export function approvalTable(items: readonly ApprovalRequest[], o: TableOptions): string {
  const header = [
    ...(o.allNamespaces ? ['NAMESPACE'] : []),
    'NAME', 'PHASE', 'AGENT', 'OPERATOR', 'SERVER', 'TOOL', 'RULE', 'APPROVALS', 'EXPIRES', 'AGE',
    ...(o.wide ? ['VERB', 'LABELS', 'APPROVERS', 'POLICY', 'DECIDED BY'] : []),
  ];
  const rows = items.map((ar) => {
    const s = ar.spec;
    const decided = (ar.status?.decisions ?? []).map((d) => `${d.user}:${d.decision}`);
    return [
      ...(o.allNamespaces ? [ar.metadata.namespace ?? ''] : []),
      ar.metadata.name ?? '', phaseOf(ar), s.requester.agent, s.requester.operator || '<none>', s.server, s.tool, s.rule,
      approvalsColumn(ar), relativeTime(s.expiresAt, o.now), age(ar.metadata.creationTimestamp, o.now),
      ...(o.wide ? [s.verb, (s.labels ?? []).join(',') || '<none>', s.approvers.join(','), `${s.policyRef.namespace}/${s.policyRef.name}`, decided.join(',') || '<none>'] : []),
    ];
  });
  return renderTable(header, rows);
}

/** Namespace, then oldest first: the requests waiting longest come first. */
export function sortRequests(items: ApprovalRequest[]): ApprovalRequest[] {
  const created = (ar: ApprovalRequest) => Date.parse(String(ar.metadata.creationTimestamp ?? '')) || 0;
  return items.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || created(a) - created(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

// Characters that change how text around them is displayed (bidi overrides, zero-width joiners,
// line separators) are shown escaped: an approver must not read something other than what runs.
const invisible = /[\p{Cf}\p{Zl}\p{Zp}]/gu;
const escapeInvisible = (s: string) => s.replace(invisible, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);

/**
 * JSON text indented for reading, token by token: numbers, strings and key order stay exactly as
 * in the input (nothing is parsed into JavaScript values, so no precision is lost).
 */
export function indentJson(text: string, indent = '  '): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let token = '';
  const newline = () => `\n${indent.repeat(depth)}`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      token += c;
      if (c === '\\') token += text[++i] ?? '';
      else if (c === '"') { out += escapeInvisible(token); token = ''; inString = false; }
      continue;
    }
    if (c === '"') { inString = true; token = c; continue; }
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') continue;
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      if (text[i + 1] === close) { out += c + close; i++; continue; }
      depth++;
      out += c + newline();
    } else if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
    } else if (c === ',') out += `,${newline()}`;
    else if (c === ':') out += ': ';
    else out += c;
  }
  return out + token;
}
