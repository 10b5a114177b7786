// `kubectl mcp show NAME`: one held call as an approver needs to see it before deciding — who
// asks, what the policy requires, the decisions so far, and the full arguments. The request
// itself only carries a redacted copy; the full arguments live in an ApprovalArguments object
// only the request's approver groups may read, and are shown only when their bytes hash to the
// digest the request binds (the digest is what an approval releases, so anything else would be a lie).
import type { ApprovalArguments, ApprovalRequest } from '../api/v1alpha1/index.ts';
import { approvalArgumentsResource, argumentsObjectName, verifyArguments } from '../pkg/approvals/arguments.ts';
import { getCondition } from '../pkg/kube/conditions.ts';
import { isNotFound, KubeError } from '../pkg/kube/client.ts';
import { approvalRequests, CliError, connect, globalHelp, globalOptions, parse, UsageError } from './cli.ts';
import { indentJson, phaseOf, relativeTime, tally } from './format.ts';

const command = 'show';

export const showHelp = `Show a held tool call, with its full arguments.

The ApprovalRequest shows the arguments redacted (secret-looking values, long strings cut). The
full arguments are kept beside it (ApprovalArguments), readable only by the request's approver
groups; they are printed only if they hash to the digest the request binds (what an approval
releases).

Usage:
  kubectl mcp show NAME [-n NAMESPACE] [--raw]

Examples:
  kubectl mcp show ar-3f2a9c -n team-a
  # Only the verified arguments, as canonical JSON (for jq)
  kubectl mcp show ar-3f2a9c -n team-a --raw | jq .

Flags:
      --raw               print only the full arguments, exactly as digested

${globalHelp}
`;

const options = { ...globalOptions, raw: { type: 'boolean' } } as const;

type FullArguments = { ok: true; text: string } | { ok: false; why: string };

export async function show(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parse(command, args, options, 1);
  if (values.help) {
    out.write(showHelp);
    return 0;
  }
  const name = positionals[0];
  if (!name) throw new UsageError('NAME is required: the approval request to show (list them with `kubectl mcp approvals`)', command);
  const { client, namespace } = connect(values);
  let ar: ApprovalRequest;
  try {
    ar = await client.get<ApprovalRequest>(approvalRequests(namespace, name));
  } catch (e) {
    if (isNotFound(e)) throw new CliError(`approvalrequest ${name} not found in namespace ${namespace} (try -A with \`kubectl mcp approvals\`)`);
    throw e;
  }

  const argsName = argumentsObjectName(ar);
  let full: FullArguments;
  try {
    const stored = await client.get<ApprovalArguments>({ ...approvalArgumentsResource, namespace, name: argsName });
    const checked = verifyArguments(ar, stored);
    full = checked.ok ? checked : { ok: false, why: `refusing to show them: ${checked.problem}` };
  } catch (e) {
    if (e instanceof KubeError && e.code === 403) {
      full = { ok: false, why: `you may not read them (approvalarguments ${argsName} is readable by members of ${ar.spec.approvers.join(', ')} only): ${e.message}` };
    } else if (isNotFound(e)) {
      full = { ok: false, why: `they were not stored (no approvalarguments ${argsName}: too large, or the authorizer lacks the RBAC to store them)` };
    } else {
      throw e;
    }
  }

  if (values.raw) {
    if (!full.ok) throw new CliError(`cannot print the full arguments of approvalrequest ${name}: ${full.why}`);
    out.write(`${full.text}\n`);
    return 0;
  }
  out.write(describe(ar, Date.now()));
  out.write(`Arguments digest:  ${ar.spec.argumentsDigest}\n`);
  if (full.ok) {
    out.write(`Arguments (full; sha256 verified against the digest):\n${indentJson(full.text)}\n`);
    return 0;
  }
  out.write(`Arguments (REDACTED copy from the request; the full arguments are not shown):\n${indentJson(JSON.stringify(ar.spec.arguments ?? {}))}\n`);
  err.write(`error: cannot show the full arguments of approvalrequest ${name}: ${full.why}\n`);
  return 1;
}

function describe(ar: ApprovalRequest, now: number): string {
  const s = ar.spec;
  const t = tally(ar);
  const who = `${s.requester.agent}${s.requester.operator ? ` on behalf of ${s.requester.operator}` : ''}`;
  const rows: Array<[string, string]> = [
    ['Name', ar.metadata.name ?? ''],
    ['Namespace', ar.metadata.namespace ?? ''],
    ['Phase', `${phaseOf(ar)} (${t.approvedBy.length}/${s.quorum} approvals)`],
    ['Requester', who],
    ...(s.requester.kubernetesUsernames?.length ? [['Known to Kubernetes as', s.requester.kubernetesUsernames.join(', ')] as [string, string]] : []),
    ['Call', `${s.server}/${s.tool} (${s.verb})`],
    ['Rule', `${s.rule} of ${s.policyRef.namespace}/${s.policyRef.name}${s.policyRef.revision ? ` (revision ${s.policyRef.revision})` : ''}`],
    ...(s.reason ? [['Reason', s.reason] as [string, string]] : []),
    ...(s.labels?.length ? [['Labels', s.labels.join(', ')] as [string, string]] : []),
    ['Approvers', `${s.quorum} of ${s.approvers.join(', ')} (not the requester)`],
    ['Expires', `${s.expiresAt} (${relativeTime(s.expiresAt, now)})`],
  ];
  for (const d of ar.status?.decisions ?? []) rows.push(['Decision', `${d.user} ${d.decision === 'approve' ? 'approved' : 'denied'} at ${d.time}${d.reason ? `: ${d.reason}` : ''}`]);
  const superseded = getCondition(ar.status?.conditions, 'Superseded');
  if (superseded?.status === 'True') rows.push(['Superseded', superseded.message]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}${v}\n`).join('');
}
