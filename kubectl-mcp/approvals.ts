// `kubectl mcp approvals`: the requests waiting for a human, or all of them with --all.
import { stringify } from 'yaml';
import type { ApprovalRequest } from '../api/v1alpha1/index.ts';
import { approvalRequests, connect, globalHelp, globalOptions, oneOf, parse } from './cli.ts';
import { approvalTable, phaseOf, sortRequests } from './format.ts';

const command = 'approvals';
const outputs = ['table', 'wide', 'yaml', 'json'] as const;

export const approvalsHelp = `List approval requests (held tool calls). Pending ones by default.

Usage:
  kubectl mcp approvals [--all] [-A | -n NAMESPACE] [-l SELECTOR] [-o wide|yaml|json]

Examples:
  # Requests waiting for a decision in the current namespace
  kubectl mcp approvals
  # Every request in every namespace, whatever its phase, with verb, labels and approver groups
  kubectl mcp approvals --all -A -o wide

Flags:
      --all               show every phase (Approved, Denied, Expired, Consumed too)
  -A, --all-namespaces    list across all namespaces
  -l, --selector=SEL      label selector, e.g. toolgate.io/policy=acme-mail
  -o, --output=FORMAT     wide, yaml or json (default: a table)

${globalHelp}
`;

const options = {
  ...globalOptions,
  all: { type: 'boolean' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  selector: { type: 'string', short: 'l' },
  output: { type: 'string', short: 'o' },
} as const;

export async function approvals(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values } = parse(command, args, options, 0);
  if (values.help) {
    out.write(approvalsHelp);
    return 0;
  }
  const output = oneOf(command, 'output', values.output, outputs) ?? 'table';
  const allNamespaces = values['all-namespaces'] === true;
  const conn = connect(values);
  const list = await conn.client.list<ApprovalRequest>(
    approvalRequests(allNamespaces ? undefined : conn.namespace),
    values.selector ? { labelSelector: values.selector } : undefined,
  );
  const items = sortRequests(list.items.filter((ar) => values.all || phaseOf(ar) === 'Pending'))
    .map((ar) => ({ ...ar, apiVersion: 'toolgate.io/v1alpha1' as const, kind: 'ApprovalRequest' as const }));

  if (output === 'json' || output === 'yaml') {
    const doc = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
    out.write(output === 'json' ? `${JSON.stringify(doc, null, 4)}\n` : stringify(doc));
    return 0;
  }
  if (items.length === 0) {
    const what = values.all ? 'approval requests' : 'pending approval requests';
    err.write(allNamespaces ? `No ${what} found.\n` : `No ${what} found in ${conn.namespace} namespace.${values.all ? '' : ' (--all shows decided ones)'}\n`);
    return 0;
  }
  out.write(approvalTable(items, { allNamespaces, wide: output === 'wide', now: Date.now() }));
  return 0;
}
