// The call `kubectl mcp explain` asks about, from flags or from a JSON-RPC body (tools/call, or
// another method the policy decides: resources/read, prompts/get, ...), as
// the gate receives it from a front end: a parsed message (the front ends' own parser), how its
// params.name names the server, and a caller built from the flags. Checking params is the gate's
// job, not this file's: explain refuses exactly what the authorizer refuses.
import { readFileSync } from 'node:fs';
import { isObject } from '../pkg/lang/is-object.ts';
import type { ToolAnnotations } from '../pkg/policy/engine/index.ts';
import { JsonRpcParseError, parseJsonRpc, type JsonRpcMessage } from '../authorizer/src/gate/jsonrpc.ts';
import { governedMethods } from '../authorizer/src/gate/operations.ts';
import { defaultSeparator, resolveToolName, type ToolNaming } from '../authorizer/src/gate/tool-names.ts';
import type { CallerIdentity, ToolCall } from '../authorizer/src/gate/types.ts';
import { CliError, UsageError } from './cli.ts';

/** What the explanation shows of the call: the gate's ToolCall fits. */
export type ExplainCall = Pick<ToolCall, 'server' | 'tool' | 'arguments' | 'annotations' | 'operation'> & { caller: Pick<CallerIdentity, 'agent' | 'operator' | 'roles' | 'scopes'> };

export interface ExplainRequest {
  /** The tools/call request, parsed as the front ends parse it. */
  message: JsonRpcMessage;
  naming: ToolNaming;
  /** Server and tool params.name stands for, when it names one (to find the policy and describe the tool). */
  target?: { server: string; tool: string };
  /** The tool's annotations as its server would list them (--annotations). */
  annotations?: ToolAnnotations;
  caller: CallerIdentity;
}

export interface CallFlags {
  server?: string | undefined;
  tool?: string | undefined;
  args?: string | undefined;
  'args-file'?: string | undefined;
  body?: string | undefined;
  separator?: string | undefined;
  annotations?: string | undefined;
  agent?: string | undefined;
  operator?: string | undefined;
  role?: string[] | undefined;
  scope?: string[] | undefined;
}

function readSource(file: string, flag: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --${flag} ${file}: ${(err as Error).message}`);
  }
}

function jsonObject(text: string, flag: string, command: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${flag} is not valid JSON: ${(err as Error).message}`, command);
  }
  if (!isObject(value)) throw new UsageError(`--${flag} must be a JSON object, e.g. '{"to":["bob@example.com"]}'`, command);
  return value;
}

/** A token with the caller's flags: what the authorizer would read from a verified JWT. */
function callerFrom(v: CallFlags): CallerIdentity {
  return {
    subject: v.operator ?? '',
    issuer: '',
    ...(v.agent ? { agent: v.agent } : {}),
    ...(v.operator ? { operator: v.operator } : {}),
    roles: [...new Set(v.role ?? [])],
    scopes: [...new Set(v.scope ?? [])],
  };
}

export function requestFromFlags(v: CallFlags, command: string): ExplainRequest {
  const caller = callerFrom(v);
  const annotations = v.annotations !== undefined ? (jsonObject(v.annotations, 'annotations', command) as ToolAnnotations) : undefined;
  const extra = { caller, ...(annotations ? { annotations } : {}) };

  if (v.body !== undefined) {
    for (const flag of ['tool', 'args', 'args-file'] as const) {
      if (v[flag] !== undefined) throw new UsageError(`--${flag} cannot be combined with --body: the body names the tool and carries the arguments`, command);
    }
    const message = toolsCall(readSource(v.body, 'body'));
    const naming: ToolNaming = v.server !== undefined ? { server: v.server } : { separator: v.separator ?? defaultSeparator };
    const name = message.kind === 'request' && message.message.method === 'tools/call' ? message.message.params?.name : undefined;
    const target = typeof name === 'string' ? resolveToolName(name, naming) : undefined;
    return { message, naming, ...(target && !('error' in target) ? { target } : {}), ...extra };
  }

  if (!v.server) throw new UsageError('--server is required (or --body with a JSON-RPC tools/call request)', command);
  if (!v.tool) throw new UsageError('--tool is required (or --body with a JSON-RPC tools/call request)', command);
  if (v.args !== undefined && v['args-file'] !== undefined) throw new UsageError('give the arguments once: --args or --args-file', command);
  const text = v.args ?? (v['args-file'] !== undefined ? readSource(v['args-file'], 'args-file') : undefined);
  const args = text !== undefined ? jsonObject(text, v.args !== undefined ? 'args' : 'args-file', command) : undefined;
  const message: JsonRpcMessage = { kind: 'request', message: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: v.tool, ...(args ? { arguments: args } : {}) } } };
  return { message, naming: { server: v.server }, target: { server: v.server, tool: v.tool }, ...extra };
}

/** A tools/call request, parsed and refused as the front ends parse and refuse bodies. */
function toolsCall(body: string): JsonRpcMessage {
  let msg;
  try {
    msg = parseJsonRpc(body);
  } catch (err) {
    if (err instanceof JsonRpcParseError) throw new CliError(`--body: ${err.message} (JSON-RPC error ${err.code})`);
    throw err;
  }
  if (msg.kind !== 'request' || (msg.message.method !== 'tools/call' && !governedMethods.includes(msg.message.method))) {
    const what = msg.kind === 'request' ? `a "${msg.message.method}" request` : `a ${msg.kind}`;
    throw new CliError(`--body is ${what}; only tools/call and ${governedMethods.join(', ')} requests are decided by policy`);
  }
  return msg;
}
