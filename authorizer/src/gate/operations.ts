// What a request other than tools/call asks of which server: the operation the policy decides
// (resources/read → a resource URI, prompts/get → a prompt name, completion/complete → the
// prompt or resource its ref names, logging/setLevel → the logging kind), and the params to
// forward. The decision and the forwarded request always name the same target: a URI is
// forwarded unchanged (and refused unless canonical, resource-uri.ts); a prompt name behind an
// aggregating proxy loses only its server prefix, which is what the policy was asked about.
import { isJsonObject } from '../../../pkg/json/strict.ts';
import { uriProblem } from './resource-uri.ts';
import { splitName, type ToolNaming } from './tool-names.ts';
import type { Operation } from './types.ts';

/** Requests decided as an operation of another kind than tool. */
export const governedMethods: readonly string[] = [
  'resources/read', 'resources/subscribe', 'resources/unsubscribe', 'prompts/get', 'completion/complete', 'logging/setLevel',
];

/** Listings that pass like tools/list: a front end that sees the result filters it per caller (Gate.visible*). */
export const listingMethods: readonly string[] = ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list'];

export type ResolvedOperation =
  | { ok: true; server: string; operation: Operation; params: Record<string, unknown> }
  | { ok: false; error: string };

const maxPromptName = 256;

/** The operation a governed method's params name, or why they name none the gate can decide. */
export function resolveOperation(method: string, params: Record<string, unknown>, naming: ToolNaming): ResolvedOperation {
  switch (method) {
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return resource(method, params.uri, 'params.uri', params, naming);
    case 'prompts/get':
      return prompt(method, params.name, 'params.name', params, naming, (name) => ({ ...params, name }));
    case 'completion/complete': {
      const ref = params.ref;
      if (!isJsonObject(ref)) return { ok: false, error: 'params.ref must be an object (ref/prompt with a name, or ref/resource with a uri)' };
      if (ref.type === 'ref/prompt') return prompt(method, ref.name, 'params.ref.name', params, naming, (name) => ({ ...params, ref: { ...ref, name } }));
      if (ref.type === 'ref/resource') return resource(method, ref.uri, 'params.ref.uri', params, naming, { template: true });
      return { ok: false, error: `params.ref.type must be "ref/prompt" or "ref/resource", not ${JSON.stringify(ref.type)}` };
    }
    case 'logging/setLevel': {
      if ('separator' in naming) return { ok: false, error: `${method} names no server; behind an aggregating proxy it must be routed to a server before it is decided` };
      return { ok: true, server: naming.server, operation: { kind: 'logging', method }, params };
    }
    default:
      return { ok: false, error: `method "${method}" is not governed as an operation` };
  }
}

function resource(method: string, uri: unknown, field: string, params: Record<string, unknown>, naming: ToolNaming, o: { template?: boolean } = {}): ResolvedOperation {
  if (typeof uri !== 'string') return { ok: false, error: `${field} must be a string (the resource URI)` };
  // A URI carries no server prefix; the proxy resolves the server from its listings and asks with { server }.
  if ('separator' in naming) return { ok: false, error: `${method}: a resource URI names no server; behind an aggregating proxy it must be routed to a server before it is decided` };
  const problem = uriProblem(uri, o);
  if (problem) return { ok: false, error: `${field} ${JSON.stringify(uri.length > 200 ? `${uri.slice(0, 200)}…` : uri)} is not a canonical URI${o.template ? ' template' : ''}: it ${problem}` };
  return { ok: true, server: naming.server, operation: { kind: 'resource', method, target: uri }, params };
}

function prompt(
  method: string, name: unknown, field: string, params: Record<string, unknown>, naming: ToolNaming, rename: (name: string) => Record<string, unknown>,
): ResolvedOperation {
  if (typeof name !== 'string' || name === '') return { ok: false, error: `${field} must be a non-empty string (the prompt name)` };
  let server: string;
  let target = name;
  if ('server' in naming) server = naming.server;
  else {
    const split = splitName(name, naming.separator);
    if (!split) return { ok: false, error: `prompt "${name}" has no server prefix: prompts behind this proxy are named <server>${naming.separator}<prompt>` };
    ({ server, tool: target } = split);
  }
  const problem = promptNameProblem(target);
  if (problem) return { ok: false, error: `${field} ${JSON.stringify(target)} ${problem}` };
  return { ok: true, server, operation: { kind: 'prompt', method, target }, params: target === name ? params : rename(target) };
}

/**
 * Prompt names are matched exactly; there is no catalog of prompts to check them against, so a
 * name an upstream could read as another (trimmed, folded, normalised) is refused instead:
 * whitespace, controls, format characters, and text that NFKC normalisation changes.
 */
export function promptNameProblem(name: string): string | undefined {
  if (name.length > maxPromptName) return `is longer than ${maxPromptName} characters`;
  if (/[\p{C}\p{Z}]/u.test(name)) return 'contains whitespace, a control or a format character';
  if (name !== name.normalize('NFKC')) return 'is not in Unicode NFKC form';
  return undefined;
}
