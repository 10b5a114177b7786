// The call `kubectl mcp explain` asks about, from flags or from a JSON-RPC tools/call body
// parsed exactly as the authorizer's front ends parse it.
import { readFileSync } from 'node:fs';
import type { ToolAnnotations } from '../pkg/policy/engine/index.ts';
import { JsonRpcParseError, parseJsonRpc } from '../authorizer/src/gate/jsonrpc.ts';
import { defaultSeparator, splitName } from '../authorizer/src/proxy/catalog.ts';
import { CliError, UsageError } from './cli.ts';

export interface ExplainCall {
  server: string;
  tool: string;
  arguments?: Record<string, unknown>;
  annotations?: ToolAnnotations;
  caller: { agent?: string; operator?: string; roles: string[]; scopes: string[] };
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

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

export function callFromFlags(v: CallFlags, command: string): ExplainCall {
  const caller = {
    ...(v.agent ? { agent: v.agent } : {}),
    ...(v.operator ? { operator: v.operator } : {}),
    roles: [...new Set(v.role ?? [])],
    scopes: [...new Set(v.scope ?? [])],
  };
  const annotations = v.annotations !== undefined ? (jsonObject(v.annotations, 'annotations', command) as ToolAnnotations) : undefined;
  const extra = annotations ? { annotations } : {};

  if (v.body !== undefined) {
    for (const flag of ['tool', 'args', 'args-file'] as const) {
      if (v[flag] !== undefined) throw new UsageError(`--${flag} cannot be combined with --body: the body names the tool and carries the arguments`, command);
    }
    const { name, args } = toolsCall(readSource(v.body, 'body'));
    let server = v.server;
    let tool = name;
    if (server === undefined) {
      const sep = v.separator ?? defaultSeparator;
      const split = splitName(name, sep);
      if (!split) throw new UsageError(`params.name "${name}" is not <server>${sep}<tool> as the proxy names tools; pass --server to name the server`, command);
      ({ server, tool } = split);
    }
    return { server, tool, ...(args !== undefined ? { arguments: args } : {}), ...extra, caller };
  }

  if (!v.server) throw new UsageError('--server is required (or --body with a JSON-RPC tools/call request)', command);
  if (!v.tool) throw new UsageError('--tool is required (or --body with a JSON-RPC tools/call request)', command);
  if (v.args !== undefined && v['args-file'] !== undefined) throw new UsageError('give the arguments once: --args or --args-file', command);
  const text = v.args ?? (v['args-file'] !== undefined ? readSource(v['args-file'], 'args-file') : undefined);
  const args = text !== undefined ? jsonObject(text, v.args !== undefined ? 'args' : 'args-file', command) : undefined;
  return { server: v.server, tool: v.tool, ...(args ? { arguments: args } : {}), ...extra, caller };
}

/** params.name and params.arguments of a tools/call request, refused as the front ends refuse it. */
function toolsCall(body: string): { name: string; args?: Record<string, unknown> } {
  let msg;
  try {
    msg = parseJsonRpc(body);
  } catch (err) {
    if (err instanceof JsonRpcParseError) throw new CliError(`--body: ${err.message} (JSON-RPC error ${err.code})`);
    throw err;
  }
  if (msg.kind !== 'request' || msg.message.method !== 'tools/call') {
    const what = msg.kind === 'request' ? `a "${msg.message.method}" request` : `a ${msg.kind}`;
    throw new CliError(`--body is ${what}; only tools/call requests are decided by policy`);
  }
  const params = msg.message.params ?? {};
  if (typeof params.name !== 'string' || params.name === '') throw new CliError('--body: params.name must be a non-empty string (the tool to call)');
  if (params.arguments !== undefined && !isObject(params.arguments)) throw new CliError('--body: params.arguments must be an object');
  return { name: params.name, ...(params.arguments !== undefined ? { args: params.arguments } : {}) };
}
