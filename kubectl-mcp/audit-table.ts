// The rows `kubectl mcp audit show` prints: one per line of the trail, identities shown as their
// openings say (the value, or the pseudonym an erasure left), never a commitment.
import type { Openings } from '../pkg/contracts/audit.ts';
import { revealed } from '../authorizer/src/audit/pseudonym.ts';
import type { AuditLine } from '../authorizer/src/audit/record.ts';
import { renderTable } from './format.ts';

export interface AuditRow {
  seq: number;
  time: string;
  type: string;
  agent: string;
  operator: string;
  server: string;
  tool: string;
  action: string;
  approval: string;
  outcome: string;
  decisionId?: string;
}

const maxCell = 60;
const cell = (s: string) => (s.length > maxCell ? `${s.slice(0, maxCell - 1)}…` : s);

/** A committed identity as shown: value, pseudonym, or "<missing>"; version 1 lines hold the value itself. */
function who(personal: Openings | undefined, v: string | undefined): string {
  if (v === undefined) return '';
  return v.startsWith('commit:') ? (revealed(personal, v) ?? '<missing>') : v;
}

export function rowOf(line: AuditLine): AuditRow | undefined {
  const l = line as AuditLine & { personal?: Openings };
  const p = l.personal;
  const base = { seq: l.seq, time: l.time, type: l.type };
  switch (l.type) {
    case 'open':
      return { ...base, agent: '', operator: '', server: '', tool: '', action: 'open', approval: '', outcome: 'instance' in l ? `instance ${l.instance}` : 'version 1' };
    case 'checkpoint':
      return { ...base, agent: '', operator: '', server: '', tool: '', action: 'checkpoint', approval: '', outcome: `checkpoint ${l.index} (key ${l.keyId.slice(0, 12)})` };
    case 'erasure':
      return { ...base, agent: '', operator: '', server: '', tool: '', action: 'erasure', approval: '', outcome: `${l.commitments.length} values → ${l.pseudonym}` };
    case 'decision': {
      if ('version' in l) {
        return {
          ...base, agent: who(p, l.agent.instance), operator: who(p, l.operator), server: l.server, tool: l.tool || l.method,
          action: l.dryRunAction ? `${l.action} (dry run: ${l.dryRunAction})` : l.action, approval: l.approval, outcome: `rule ${l.rule}`, decisionId: l.decisionId,
        };
      }
      return { ...base, agent: l.caller.agent ?? '', operator: l.caller.operator ?? '', server: l.server, tool: l.tool || (l.method ?? ''), action: l.action, approval: '', outcome: `rule ${l.rule}`, decisionId: l.decisionId };
    }
    case 'approval': {
      const approvers = l.approvedBy.map((a) => who(p, a));
      const deniers = l.deniedBy.map((a) => who(p, a));
      const by = [...(approvers.length ? [`approved by ${approvers.join(', ')}`] : []), ...(deniers.length ? [`denied by ${deniers.join(', ')}`] : [])].join('; ');
      return { ...base, agent: '', operator: '', server: l.server, tool: l.tool, action: `approval ${l.outcome}`, approval: 'approval' in l ? l.approval : l.outcome, outcome: by || (l.message ?? ''), decisionId: l.decisionId };
    }
    case 'refusal': {
      const c = l.caller as { agent?: unknown; operator?: string; subject: string } | undefined;
      const agent = c && typeof c.agent === 'object' && c.agent !== null ? who(p, (c.agent as { instance?: string }).instance) : ((c?.agent as string | undefined) ?? '');
      return { ...base, agent, operator: who(p, c?.operator), server: l.server ?? '', tool: l.tool ?? l.method ?? '', action: `refused (${l.stage})`, approval: '', outcome: `${l.httpStatus} ${l.reason}`, ...(l.decisionId ? { decisionId: l.decisionId } : {}) };
    }
    case 'response':
      return { ...base, agent: '', operator: '', server: l.server, tool: l.tool, action: 'response', approval: '', outcome: `${l.status}: ${l.outcome}`, decisionId: l.decisionId };
    default:
      return undefined;
  }
}

export function auditTable(rows: readonly AuditRow[]): string {
  return renderTable(['SEQ', 'TIME', 'AGENT', 'OPERATOR', 'SERVER/TOOL', 'ACTION', 'APPROVAL', 'OUTCOME'], rows.map((r) => [
    String(r.seq), r.time, cell(r.agent), cell(r.operator), cell(r.server && r.tool ? `${r.server}/${r.tool}` : r.server || r.tool), cell(r.action), r.approval, cell(r.outcome),
  ]));
}
