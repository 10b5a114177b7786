// The `kubectl mcp` commands (cmd/kubectl-mcp/main.ts is the executable). kubectl finds the
// plugin on PATH as `kubectl-mcp` and passes everything after `mcp`. Exit codes: 0 done, 1 failed (what to do is printed), 2 usage error.
import { KubeError } from '../pkg/kube/client.ts';
import { CliError, serverError, UsageError } from './cli.ts';

const rootHelp = `Human approval and policy explanations for toolgate (MCP tool calls).

Usage:
  kubectl mcp approvals [--all] [-A] [-o wide|yaml|json]   list held calls (Pending by default)
  kubectl mcp show NAME [--raw]                           a held call with its full (verified) arguments
  kubectl mcp approve NAME [--reason TEXT]                approve a held call
  kubectl mcp deny NAME --reason TEXT                     deny a held call
  kubectl mcp explain --server S --tool T [--args JSON]   what the live policy decides, and why
  kubectl mcp import FILE [--apply | -o DIR]              mcp-security.yaml or a pack → McpSecurityPolicy / McpProfile
  kubectl mcp export policy|profile NAME | -f FILE        back to mcp-security.yaml or a pack
  kubectl mcp init --profile NAME [--tenant T] [--var K=V] scaffold a commented mcp-security.yaml
  kubectl mcp profile list|show|add                       shipped community profiles and pack files
  kubectl mcp tools list|diff|accept                      pinned tool definitions: review and accept changes
  kubectl mcp audit verify|show|erase FILE                verify, read or erase (by pseudonym) an audit trail

Every subcommand takes --kubeconfig, --context, -n/--namespace and -h/--help.
Run 'kubectl mcp <command> --help' for more.
`;

// Loaded on demand: explain pulls in the compiler and the wasm engine, which approve/deny need not pay for.
const helps: Record<string, () => Promise<string>> = {
  approvals: async () => (await import('./approvals.ts')).approvalsHelp,
  show: async () => (await import('./show.ts')).showHelp,
  approve: async () => (await import('./decide.ts')).decideHelp('approve'),
  deny: async () => (await import('./decide.ts')).decideHelp('deny'),
  explain: async () => (await import('./explain.ts')).explainHelp,
  // The people's workflow (mcp-security.yaml, packs).
  import: async () => (await import('./import.ts')).importHelp,
  export: async () => (await import('./export.ts')).exportHelp,
  init: async () => (await import('./init.ts')).initHelp,
  profile: async () => (await import('./profile.ts')).profileHelp,
  tools: async () => (await import('./tools.ts')).toolsHelp,
  audit: async () => (await import('./audit.ts')).auditHelp,
};

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'approvals':
        return await (await import('./approvals.ts')).approvals(rest, out, err);
      case 'show':
        return await (await import('./show.ts')).show(rest, out, err);
      case 'approve':
      case 'deny':
        return await (await import('./decide.ts')).decide(command, rest, out);
      case 'explain':
        return await (await import('./explain.ts')).explain(rest, out, err);
      // The people's workflow (mcp-security.yaml, packs).
      case 'import':
        return await (await import('./import.ts')).importCommand(rest, out);
      case 'export':
        return await (await import('./export.ts')).exportCommand(rest, out);
      case 'init':
        return (await import('./init.ts')).initCommand(rest, out);
      case 'profile':
        return await (await import('./profile.ts')).profileCommand(rest, out);
      case 'tools':
        return await (await import('./tools.ts')).tools(rest, out);
      case 'audit':
        return await (await import('./audit.ts')).audit(rest, out, err);
      case undefined:
      case '-h':
      case '--help':
        out.write(rootHelp);
        return 0;
      case 'help': {
        const help = rest[0] === undefined ? async () => rootHelp : helps[rest[0]];
        if (help === undefined) throw new UsageError(`unknown command "${rest[0]}"`, '');
        out.write(await help());
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}" (commands: approvals, show, approve, deny, explain, import, export, init, profile, tools, audit)`, '');
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`error: ${e.message}\nSee 'kubectl mcp ${e.command ? `${e.command} ` : ''}--help' for usage.\n`);
      return e.exitCode;
    }
    if (e instanceof CliError) {
      err.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof KubeError) {
      // The API server's own words (admission policy messages included), untouched.
      err.write(`${serverError(e)}\n`);
      if (e.code === 403 && e.reason === 'Forbidden' && /cannot (get|list|update|create)/.test(e.message)) {
        err.write('Ask a cluster admin for the RBAC this needs (approvers: get/list approvalrequests and update approvalrequests/status; the full arguments of a request are readable by its approver groups only; accepting tool definitions: the toolgate-tool-reviewer role).\n');
      }
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET') {
      err.write(`error: cannot reach the API server (${(e as Error).message}); check --context and \`kubectl cluster-info\`\n`);
      return 1;
    }
    err.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
