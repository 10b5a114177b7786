// `kubectl mcp explain`: what the live policy decides for one tools/call, and why. It reads the
// McpSecurityPolicy and its McpProfiles with the user's own credentials, compiles them exactly
// as the operator does, loads the real policy.wasm into a PolicyRouter as the bundle client does
// and hands the call to the authorizer's own gate (name resolution, params checks, router,
// scopes, decision), so it cannot answer otherwise than the authorizers do whenever the revision
// computed here matches the policy's status. Nothing is sent to any MCP server.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { McpProfile, McpSecurityPolicy } from '../api/v1alpha1/index.ts';
import { ensurePolicyWasm } from '../pkg/policy/engine/policy-wasm.ts';
import { bundleRevision } from '../pkg/bundle/bundle.ts';
import type { CompiledData } from '../pkg/policy/compiler/index.ts';
import { compilePolicy } from '../pkg/policy/compiler/index.ts';
import { bundleInputsFor } from '../pkg/bundle/inputs.ts';
import { isNotFound, type KubeClient } from '../pkg/kube/client.ts';
import { StaticToolCatalog } from '../authorizer/src/gate/catalog.ts';
import { policyInput, type DecisionRecord } from '../authorizer/src/gate/decision-path.ts';
import { Gate } from '../authorizer/src/gate/gate.ts';
import type { Admission } from '../authorizer/src/gate/outcome.ts';
import { PolicyRouter } from '../authorizer/src/gate/policy-router.ts';
import { CliError, connect, globalHelp, globalOptions, group, oneOf, parse, UsageError, version } from './cli.ts';
import { requestFromFlags, type ExplainRequest } from './explain-input.ts';
import { renderExplanation, revisionNote } from './explain-render.ts';
import { sessionTaint, type SessionView } from './explain-session.ts';

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
      --session=ID          decide as part of this MCP session: with the taint the authorizers
                            recorded for it and its caller (McpSessionTaint; velocity counts live
                            in each authorizer's memory and are not shown)
      --subject=SUB         the caller's token subject, for --session (default: --operator)
      --issuer=URL          the caller's token issuer, for --session (default: the policy's issuer)
      --taint-namespace=NS  where the authorizers keep McpSessionTaints (default toolgate-system)
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
  session: { type: 'string' },
  subject: { type: 'string' },
  issuer: { type: 'string' },
  'taint-namespace': { type: 'string' },
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
  const request = requestFromFlags(values, command);
  const { client, namespace } = connect(values);

  // resources/read and the like name no server in the body: --server does.
  const server = request.target?.server ?? ('server' in request.naming ? request.naming.server : undefined);
  if (server === undefined && !values.policy) throw new UsageError('params.name names no governed server: pass --policy (and --server) to say which policy decides it', command);
  const policy = await readPolicy(client, namespace, values.policy, server ?? '');
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
  const session = values.session !== undefined || values.subject !== undefined
    ? await sessionTaint(client, {
      namespace: values['taint-namespace'] ?? 'toolgate-system',
      issuer: values.issuer ?? policy.spec.identity?.issuer ?? '',
      subject: values.subject ?? values.operator ?? '',
      ...(values.session !== undefined ? { sessionId: values.session } : {}),
    })
    : undefined;
  if (session) request.caller = { ...request.caller, subject: session.subject, issuer: session.issuer };
  const { decided, admitted, router } = await decideThroughGate(request, compiled.data, wasm, revision, `${namespace}/${policy.metadata.name}`, session);
  const answer = answerOf(admitted);
  if (!decided) throw new CliError(`the authorizer refuses this call before any policy decision: ${answer}`);
  const { verdict, call } = decided;
  const decision = verdict.decision;
  const engine = router.entry(`${namespace}/${policy.metadata.name}`).engine;
  const classification = engine.classify(policyInput(call));
  const note = revisionNote(revision, policy);

  if (output !== 'text') {
    if (!note.current) err.write(`warning: ${note.text}\n`);
    out.write(output === 'json' ? `${JSON.stringify(decision, null, 2)}\n` : stringify(decision));
    return 0;
  }
  const tool = compiled.data.toolgate.compiled.servers[call.server]?.tools[call.tool];
  out.write(renderExplanation({ policy, revision, note, call, decision, classification, tool, answer, ...(session ? { session } : {}) }));
  return 0;
}

/**
 * The compiled policy in a PolicyRouter as the bundle client loads it, and the call through the
 * gate both front ends use. The tool is listed as the user describes it (--annotations), as if its
 * server listed it so.
 */
async function decideThroughGate(request: ExplainRequest, data: CompiledData, wasm: Buffer, revision: string, key: string, session?: SessionView): Promise<{ decided?: DecisionRecord; admitted: Admission; router: PolicyRouter }> {
  const router = new PolicyRouter();
  await router.entry(key).engine.load(wasm, data, revision);
  router.update(key, { gateway: data.toolgate.gateway, data });
  const listed = request.target ? { [request.target.server]: [{ name: request.target.tool, ...(request.annotations ? { annotations: request.annotations } : {}) }] } : {};
  let decided: DecisionRecord | undefined;
  const gate = new Gate({
    router, log: pino({ level: 'silent' }), catalog: new StaticToolCatalog(listed), ready: () => true, onDecision: (r) => { decided = r; },
    ...(session ? { session: session.state } : {}),
  });
  const admitted = await gate.admit(request.message, { frontEnd: 'explain', caller: request.caller, naming: request.naming, ...(session?.sessionId ? { sessionId: session.sessionId } : {}) });
  return { ...(decided ? { decided } : {}), admitted, router };
}

/** What either front end answers the client, in one line. */
function answerOf(a: Admission): string {
  if (a.kind === 'allow') return 'HTTP 200: the call goes upstream';
  if (a.kind === 'hold') return 'held for approval';
  const r = a.refusal;
  return `HTTP ${r.httpStatus}, JSON-RPC error ${r.error.code}: ${r.error.message}${r.wwwAuthenticate ? ` (WWW-Authenticate: ${r.wwwAuthenticate})` : ''}`;
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
