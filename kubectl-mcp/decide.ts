// `kubectl mcp approve|deny NAME`: appends one decision to status.decisions. The user and groups
// written are the ones the API server reports for the caller (SelfSubjectReview), so the
// admission policy comparing them with request.userInfo accepts them; the write carries the
// resourceVersion it read, so a concurrent decision is never overwritten.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApprovalRequest, Decision } from '../api/v1alpha1/index.ts';
import { parseDuration as parseDurationText } from '../pkg/duration.ts';
import { isConflict, isNotFound, type KubeClient } from '../pkg/kube/client.ts';
import { approvalRequests, CliError, connect, globalHelp, globalOptions, parse, UsageError, whoAmI } from './cli.ts';
import { duePhase, phaseOf, tally, terminalPhases } from './format.ts';

export const fieldManager = 'kubectl-mcp';
const maxAttempts = 5;

export const decideHelp = (verb: 'approve' | 'deny') => `${verb === 'approve' ? 'Approve' : 'Deny'} a held tool call.

Appends your decision to the ApprovalRequest's status. Your user name and groups are taken
from the API server (SelfSubjectReview), never from flags; the cluster's admission policy
checks that you may decide. The operator then sets the phase.

Usage:
  kubectl mcp ${verb} NAME ${verb === 'deny' ? '--reason TEXT' : '[--reason TEXT]'} [-n NAMESPACE] [--wait DURATION]

Examples:
  kubectl mcp ${verb} ar-3f2a9c -n team-a ${verb === 'deny' ? '--reason "recipient is outside the company"' : '--reason "checked with the sender"'}

Flags:
      --reason=TEXT       why (${verb === 'deny' ? 'required' : 'optional'}); recorded with the decision
      --wait=DURATION     how long to wait for the operator to update the phase (default 5s; 0 = do not wait)

${globalHelp}
`;

const options = { ...globalOptions, reason: { type: 'string' }, wait: { type: 'string' } } as const;

/** --wait: a duration as the CRDs write them (5s, 500ms, 1m, 1h), or 0 for "do not wait". */
export function parseDuration(text: string, command: string): number {
  if (text.trim() === '0') return 0;
  try {
    return parseDurationText(text.trim(), '--wait');
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
}

export async function decide(verb: 'approve' | 'deny', args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(verb, args, options, 1);
  if (values.help) {
    out.write(decideHelp(verb));
    return 0;
  }
  const name = positionals[0];
  if (!name) throw new UsageError(`NAME is required: the approval request to ${verb} (list them with \`kubectl mcp approvals\`)`, verb);
  const reason = values.reason?.trim();
  if (verb === 'deny' && !reason) throw new UsageError('--reason is required for deny: say why, so the requester learns what to change', verb);
  if (reason !== undefined && reason.length > 2048) throw new UsageError(`--reason is ${reason.length} characters; at most 2048 are allowed`, verb);
  const waitMs = parseDuration(values.wait ?? '5s', verb);

  const { client, namespace } = connect(values);
  const ref = approvalRequests(namespace, name);
  const read = async (): Promise<ApprovalRequest> => {
    try {
      return await client.get<ApprovalRequest>(ref);
    } catch (err) {
      if (isNotFound(err)) throw new CliError(`approvalrequest ${name} not found in namespace ${namespace} (try -A with \`kubectl mcp approvals\`)`);
      throw err;
    }
  };

  let ar = await read();
  checkOpen(ar);
  const me = await whoAmI(client);
  const decision: Decision = {
    user: me.username,
    ...(me.groups.length > 0 ? { groups: me.groups } : {}),
    decision: verb,
    ...(reason ? { reason } : {}),
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  for (let attempt = 1; ; attempt++) {
    // Approving twice counts once; a deny after one's own approval (a change of mind) still counts.
    const earlier = ar.status?.decisions?.find((d) => d.user === me.username && d.decision === verb);
    if (earlier) throw new CliError(`you (${me.username}) already ${verb === 'approve' ? 'approved' : 'denied'} approvalrequest ${name} at ${earlier.time}; nothing to add`);
    const body: ApprovalRequest = { ...ar, status: { ...ar.status, decisions: [...(ar.status?.decisions ?? []), decision] } };
    try {
      ar = await client.replace<ApprovalRequest>({ ...ref, subresource: 'status' }, body, fieldManager);
      break;
    } catch (err) {
      // Someone else (another approver, the operator) wrote in between: re-read and try again.
      if (!isConflict(err) || attempt >= maxAttempts) throw err;
      ar = await read();
      checkOpen(ar);
    }
  }

  const approverGroups = me.groups.filter((g) => ar.spec.approvers.includes(g));
  const as = approverGroups.length > 0
    ? `${me.username} (member of ${approverGroups.join(', ')})`
    : `${me.username} (not in an approver group: ${ar.spec.approvers.join(', ')}; this decision does not count towards approval)`;
  out.write(`approvalrequest/${name} ${verb === 'approve' ? 'approved' : 'denied'} by ${as}\n`);
  out.write(await outcome(client, ref, ar, waitMs));
  return 0;
}

/** A request that has already ended takes no more decisions; say so instead of writing. */
function checkOpen(ar: ApprovalRequest): void {
  const name = ar.metadata.name ?? '';
  const phase = phaseOf(ar);
  if (terminalPhases.includes(phase)) throw new CliError(`approvalrequest ${name} is already ${phase}; nothing to decide`);
  const expires = Date.parse(ar.spec.expiresAt);
  if (!Number.isNaN(expires) && expires <= Date.now()) {
    throw new CliError(`approvalrequest ${name} expired at ${ar.spec.expiresAt} (a late decision never releases a call); nothing to decide`);
  }
}

/** The phase after our decision: waits (briefly) for the operator only when a change is due. */
async function outcome(client: KubeClient, ref: ReturnType<typeof approvalRequests>, written: ApprovalRequest, waitMs: number): Promise<string> {
  const progress = (ar: ApprovalRequest) => `${tally(ar).approvedBy.length}/${ar.spec.quorum} approvals`;
  const due = duePhase(written);
  let ar = written;
  const deadline = Date.now() + waitMs;
  while (phaseOf(ar) === 'Pending' && due !== 'Pending' && Date.now() < deadline) {
    await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
    ar = await client.get<ApprovalRequest>(ref).catch(() => ar);
  }
  const phase = phaseOf(ar);
  if (phase !== 'Pending') return `phase: ${phase} (${progress(ar)})\n`;
  if (due === 'Pending') return `still Pending (${progress(ar)})\n`;
  return `still Pending (${progress(ar)}): the operator has not set the phase to ${due} yet; check again with \`kubectl mcp approvals --all\` (is the operator running?)\n`;
}
