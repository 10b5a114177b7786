// `kubectl mcp explain`: what the live policy decides for one tools/call, and why. It reads the
// McpSecurityPolicy and its McpProfiles with the user's own credentials, compiles them exactly
// as the operator does, evaluates the real policy.wasm and computes the bundle revision, so the
// answer is the authorizers' answer whenever that revision matches the policy's status. Nothing
// is sent to any MCP server.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { McpProfile, McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import { PolicyEngine } from '../pkg/policy/engine/index.ts';
import { ensurePolicyWasm } from '../pkg/policy/engine/policy-wasm.ts';
import { policyInput } from '../authorizer/src/gate/decision-path.ts';
import { bundleRevision } from '../pkg/bundle/bundle.ts';
import { compilePolicy } from '../pkg/policy/compiler/index.ts';
import { bundleInputsFor } from '../pkg/bundle/inputs.ts';
import { isNotFound, type KubeClient } from '../pkg/kube/client.ts';
import { CliError, connect, globalHelp, globalOptions, group, oneOf, parse, UsageError, version } from './cli.ts';
import { callFromFlags, type ExplainCall } from './explain-input.ts';
import { renderExplanation, revisionNote } from './explain-render.ts';

const command = 'explain';
const outputs = ['text', 'json', 'yaml'] as const;

export const explainHelp = `Explain what a policy decides for one tool call, without executing it.

Reads the McpSecurityPolicy and the McpProfiles it references from the cluster, compiles them
as the operator does and evaluates the real policy program. Shows the classification
(annotations, verb, labels and where they came from), the matched rule and the decision, and
the bundle revision next to the policy's status.revision.

Usage:
  kubectl mcp explain [--policy NAME] --server SERVER --tool TOOL [--args JSON | --args-file FILE] [caller flags]
  kubectl mcp explain [--policy NAME] --body FILE|- [--server SERVER] [caller flags]

Examples:
  kubectl mcp explain --policy acme-mail --server gmail --tool send_email --args '{"to":["bob@partner.example"]}'
  echo '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gmail__send_email","arguments":{}}}' \\
    | kubectl mcp explain --policy acme-mail --body - -o json

Flags:
      --policy=NAME         McpSecurityPolicy (default: the only one in the namespace governing the server)
      --server=NAME         governed server (spec.servers[].name)
      --tool=NAME           tool as the server names it
      --args=JSON           the call's arguments (a JSON object)
      --args-file=FILE      read the arguments from FILE (- for stdin)
      --body=FILE           a JSON-RPC tools/call request (- for stdin); params.name as the proxy
                            names tools (<server>__<tool>), or the bare tool name with --server
      --separator=SEP       the proxy's server/tool separator (default __)
      --annotations=JSON    tool annotations as the server reports them, e.g. '{"readOnlyHint":true}'
      --agent=ID            the calling agent (token azp)
      --operator=ID         the human the agent acts for (token sub)
      --role=NAME           a role the caller holds (repeatable)
      --scope=SCOPE         an OAuth scope of the caller's token (repeatable)
      --wasm=FILE           policy.wasm to evaluate (default: the one shipped beside the plugin, else
                            build/policy/policy.wasm of the checkout, built if stale)
  -o, --output=FORMAT       json or yaml: print the decision document only

${globalHelp}
`;

const options = {
  ...globalOptions,
  policy: { type: 'string' },
  server: { type: 'string' },
  tool: { type: 'string' },
  args: { type: 'string' },
  'args-file': { type: 'string' },
  body: { type: 'string' },
  separator: { type: 'string' },
  annotations: { type: 'string' },
  agent: { type: 'string' },
  operator: { type: 'string' },
  role: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  wasm: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

/** A release ships policy.wasm beside the plugin; a checkout builds it (build/policy/policy.wasm). */
function defaultWasm(): string {
  const beside = fileURLToPath(new URL('policy.wasm', import.meta.url));
  return existsSync(beside) ? beside : ensurePolicyWasm();
}

const policiesRef = (namespace: string, name?: string) => ({ group, version, plural: 'mcpsecuritypolicies', namespace, ...(name ? { name } : {}) });

export async function explain(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values } = parse(command, args, options, 0);
  if (values.help) {
    out.write(explainHelp);
    return 0;
  }
  const output = oneOf(command, 'output', values.output, outputs) ?? 'text';
  const call: ExplainCall = callFromFlags(values, command);
  const { client, namespace } = connect(values);

  const policy = await readPolicy(client, namespace, values.policy, call.server);
  const profiles = await readProfiles(client, policy);
  const compiled = compilePolicy(policy, profiles);
  if (!compiled.data) {
    const lines = compiled.problems.map((p) => `  ${p.field}: ${p.message}`).join('\n');
    throw new CliError(`mcpsecuritypolicy ${namespace}/${policy.metadata.name} does not compile, so authorizers keep its last good revision (${policy.status?.revision ?? 'none'}):\n${lines}`);
  }

  const wasmPath = values.wasm ?? defaultWasm();
  let wasm: Buffer;
  try {
    wasm = readFileSync(wasmPath);
  } catch (e) {
    throw new CliError(`cannot read policy.wasm at ${wasmPath}: ${(e as Error).message} (run \`make policy\` or pass --wasm)`);
  }
  const revision = bundleRevision(bundleInputsFor(policy, compiled.data, wasm));
  const engine = new PolicyEngine();
  await engine.load(wasm, compiled.data, revision);
  const input = policyInput({
    server: call.server,
    tool: call.tool,
    ...(call.arguments !== undefined ? { arguments: call.arguments } : {}),
    ...(call.annotations ? { annotations: call.annotations } : {}),
    caller: { subject: '', issuer: '', ...call.caller },
    frontEnd: 'proxy',
  });
  const decision = engine.evaluate(input);
  const classification = engine.classify(input);
  const note = revisionNote(revision, policy);

  if (output !== 'text') {
    if (!note.current) err.write(`warning: ${note.text}\n`);
    out.write(output === 'json' ? `${JSON.stringify(decision, null, 2)}\n` : stringify(decision));
    return 0;
  }
  const tool = compiled.data.toolgate.compiled.servers[call.server]?.tools[call.tool];
  out.write(renderExplanation({ policy, revision, note, call, decision, classification, tool }));
  return 0;
}

async function readPolicy(client: KubeClient, namespace: string, name: string | undefined, server: string): Promise<McpSecurityPolicy> {
  if (name) {
    try {
      return await client.get<McpSecurityPolicy>(policiesRef(namespace, name));
    } catch (e) {
      if (isNotFound(e)) throw new CliError(`mcpsecuritypolicy ${name} not found in namespace ${namespace} (list them with \`kubectl get mcpsecuritypolicies -A\`)`);
      throw e;
    }
  }
  const { items } = await client.list<McpSecurityPolicy>(policiesRef(namespace));
  const governing = items.filter((p) => p.spec.servers.some((s) => s.name === server));
  if (governing.length === 1) return governing[0]!;
  const names = governing.map((p) => p.metadata.name).join(', ');
  if (governing.length === 0) throw new CliError(`no McpSecurityPolicy in namespace ${namespace} governs server "${server}"; pass --policy and -n (list them with \`kubectl get mcpsecuritypolicies -A\`)`);
  throw new UsageError(`several McpSecurityPolicies in namespace ${namespace} govern server "${server}" (${names}); pass --policy`, command);
}

async function readProfiles(client: KubeClient, policy: McpSecurityPolicy): Promise<Map<string, McpProfile>> {
  const profiles = new Map<string, McpProfile>();
  for (const name of new Set((policy.spec.profiles ?? []).map((r) => r.name))) {
    try {
      profiles.set(name, await client.get<McpProfile>({ group, version, plural: 'mcpprofiles', name }));
    } catch (e) {
      // A missing profile is the compiler's to report, naming the field that references it.
      if (!isNotFound(e)) throw e;
    }
  }
  return profiles;
}
