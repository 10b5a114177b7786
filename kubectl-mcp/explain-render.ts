// The human-readable explanation: where each label came from, which rule matched, and whether
// the revision evaluated here is the one authorizers enforce.
import type { McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import type { Classification, Decision } from '../pkg/policy/engine/index.ts';
import type { CompiledTool } from '../pkg/policy/compiler/index.ts';
import type { ExplainCall } from './explain-input.ts';
import type { SessionView } from './explain-session.ts';

export interface RevisionNote {
  /** True when the policy's status.revision is the revision computed here. */
  current: boolean;
  text: string;
}

export function revisionNote(computed: string, policy: McpSecurityPolicy): RevisionNote {
  const status = policy.status?.revision;
  const gen = policy.metadata.generation;
  if (!status) {
    return { current: false, text: `mcpsecuritypolicy ${policy.metadata.name} has no status.revision: the operator has not compiled it (is it running?); authorizers enforce nothing from it yet` };
  }
  if (status === computed) return { current: true, text: `matches status.revision: authorizers pulling this policy enforce exactly this` };
  return {
    current: false,
    text: `status.revision is ${status} but the current spec${gen !== undefined ? ` (generation ${gen})` : ''} and profiles compile to ${computed}: `
      + 'the operator has not caught up yet, or it ships a different policy.wasm than this plugin (pass --wasm); authorizers may still enforce the older revision',
  };
}

/** label → where it came from: an argument classifier, the tool's profile/override entry, or the name pattern. */
export function labelSources(decision: Decision, tool: CompiledTool | undefined): Array<[string, string]> {
  const fromClassifier = new Map<string, string>();
  for (const r of decision.reasons.slice(1)) {
    const m = /^(.*) set (\S+)$/.exec(r);
    if (!m) continue;
    for (const l of m[2]!.split(',')) fromClassifier.set(l, [fromClassifier.get(l), m[1]].filter(Boolean).join('; '));
  }
  const pattern = decision.sources.find((s) => s.startsWith('pattern:'));
  return decision.labels.map((l) => {
    if (fromClassifier.has(l)) return [l, `classifiers: ${fromClassifier.get(l)!}`];
    if (tool?.labels.includes(l)) return [l, tool.sources.join(' + ') || 'tool entry'];
    return [l, pattern ?? 'tool entry'];
  });
}

export interface Explanation {
  policy: McpSecurityPolicy;
  revision: string;
  note: RevisionNote;
  call: ExplainCall;
  decision: Decision;
  classification: Classification;
  tool: CompiledTool | undefined;
  /** What the front ends answer the client (status and JSON-RPC error). */
  answer?: string;
  /** --session: the taint the call was decided with. */
  session?: SessionView;
}

const list = (xs: readonly string[]) => (xs.length > 0 ? xs.join(', ') : '<none>');

export function renderExplanation(e: Explanation): string {
  const { decision: d, call, policy } = e;
  const c = e.classification;
  const lines: string[] = [];
  const field = (k: string, v: string) => lines.push(`  ${(k ? `${k}:` : '').padEnd(14)}${v}`);

  lines.push(`Policy:       ${policy.metadata.namespace}/${policy.metadata.name} (enforcement: ${d.enforcement})`);
  lines.push(`Revision:     ${e.revision}`);
  lines.push(`              ${e.note.current ? '' : 'WARNING: '}${e.note.text}`);
  lines.push('');
  if (call.operation) {
    const op = call.operation;
    lines.push(`Call:         ${call.server} / ${op.method}${op.target !== undefined ? ` ${JSON.stringify(op.target)}` : ''} (kind ${op.kind})`);
  } else {
    lines.push(`Call:         ${call.server} / ${call.tool}`);
    field('arguments', call.arguments !== undefined ? JSON.stringify(call.arguments) : '<none>');
  }
  if (call.annotations) field('reported', `${JSON.stringify(call.annotations)} (server's annotations, untrusted)`);
  const who = [call.caller.agent && `agent=${call.caller.agent}`, call.caller.operator && `operator=${call.caller.operator}`].filter(Boolean).join(' ');
  field('caller', `${who || '<anonymous>'} roles=[${call.caller.roles.join(',')}] scopes=[${call.caller.scopes.join(',')}]`);
  lines.push('');

  lines.push('Classification:');
  if (c.valid) {
    if (call.operation) field(call.operation.kind, c.sources.length ? `classified by ${list(c.sources)}` : 'no override classifies it');
    else field('tool', c.known ? `known (${list(c.sources)})` : `not in any profile or override${c.sources.length ? ` (${list(c.sources)})` : ''}`);
    field('annotations', Object.entries(d.annotations).map(([k, v]) => `${k}=${String(v)}`).join(' ') || '<none>');
    field('verb', d.verb || '<none>');
    const labels = labelSources(d, e.tool);
    if (labels.length === 0) field('labels', '<none>');
    labels.forEach(([l, src], i) => field(i === 0 ? 'labels' : '', `${l.padEnd(Math.max(...labels.map(([x]) => x.length)))}  from ${src}`));
    if (c.scopes.length > 0) field('scopes', `${list(c.scopes)} (the caller's token must carry all)`);
  } else {
    field('invalid', c.errors.join('; '));
  }
  lines.push('');

  if (e.session) {
    const s = e.session;
    lines.push('Session:');
    field('session', s.sessionId !== undefined ? `${s.sessionId} (caller ${s.issuer} ${s.subject})` : `none: the caller ${s.issuer} ${s.subject} across its sessions`);
    if (s.taint.length === 0) field('taint', '<none>');
    s.taint.forEach((t, i) => field(i === 0 ? 'taint' : '', `${t.label} via ${t.server}.${t.target} at ${t.at} (decision ${t.decisionId})`));
    if (d.session) {
      field('this call', `counts toward ${list(d.session.counted)}; taints with ${list(d.session.taints)}${d.session.sink ? '; is a sink of a flow rule' : ''}`);
      if (d.session.constraint) field(d.session.constraint.kind, `${d.session.constraint.name}: ${d.session.constraint.reason}`);
    }
    field('counts', 'velocity counts live in each authorizer replica\'s memory and are not shown (0 assumed)');
    lines.push('');
  }

  lines.push('Decision:');
  field('action', d.dryRunAction ? `${d.action} (dry run: enforcement would answer ${d.dryRunAction})` : d.action);
  field('rule', d.rule);
  d.reasons.forEach((r, i) => field(i === 0 ? 'reasons' : '', r));
  if (d.action === 'require_approval' || d.dryRunAction === 'require_approval') {
    field('approvers', list(d.approvers));
    field('quorum', String(d.quorum));
    field('timeout', `${d.timeout} (then the call is aborted)`);
  }
  if (e.answer) field('answer', e.answer);
  lines.push('');
  lines.push('Nothing was executed.');
  return lines.join('\n') + '\n';
}
