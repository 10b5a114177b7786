// What every `kubectl mcp` subcommand shares: kubectl-style flags, usage errors (exit 2) versus
// failures (exit 1), and a connection built from the user's kubeconfig the way kubectl builds
// it (KUBECONFIG, --kubeconfig, --context, exec/cert/token auth via client-node).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, KubeError } from '../pkg/kube/client.ts';

export const group = 'toolgate.io';
export const version = 'v1alpha1';

/** A failure the user can act on: printed as `error: <message>`, exit 1. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number = 1;
}

/** The command line itself is wrong: exit 2 and point at the subcommand's help. */
export class UsageError extends CliError {
  override name = 'UsageError';
  override readonly exitCode: number = 2;
  readonly command: string;
  constructor(message: string, command: string) {
    super(message);
    this.command = command;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags kubectl users expect on every subcommand. */
export const globalOptions = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const globalHelp = `Global flags:
      --kubeconfig=PATH   kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config)
      --context=NAME      kubeconfig context to use
  -n, --namespace=NS      namespace (default: the context's namespace, then "default")
  -h, --help              show this help`;

export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string };
  positionals: string[];
}

/** parseArgs with kubectl's habits (`-o=json`, `-n=ns`) and errors that name the subcommand. */
export function parse<O extends Options>(command: string, args: string[], options: O, maxPositionals: number): Parsed<O> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) {
    // pflag accepts `-o=json`; node's parseArgs hands the `=` through as part of the value.
    if (typeof v === 'string' && v.startsWith('=')) values[k] = v.slice(1);
    if (Array.isArray(v)) values[k] = v.map((x: string) => (x.startsWith('=') ? x.slice(1) : x));
  }
  if (!values.help && parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument${parsed.positionals.length - maxPositionals > 1 ? 's' : ''}: ${parsed.positionals.slice(maxPositionals).join(' ')}`, command);
  }
  return { values, positionals: parsed.positionals } as Parsed<O>;
}

export function oneOf<T extends string>(command: string, flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}; got "${value}"`, command);
  return value as T;
}

export interface Connection {
  client: KubeClient;
  /** The namespace to act in: -n, else the context's, else "default". */
  namespace: string;
  context: string;
}

export function connect(values: { kubeconfig?: string | undefined; context?: string | undefined; namespace?: string | undefined }): Connection {
  const kc = new KubeConfig();
  try {
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`cannot load kubeconfig${values.kubeconfig ? ` ${values.kubeconfig}` : ''}: ${(err as Error).message}`);
  }
  if (values.context) {
    if (!kc.getContexts().some((c) => c.name === values.context)) {
      throw new CliError(`context "${values.context}" not found in kubeconfig (have: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(values.context);
  }
  const context = kc.getCurrentContext();
  let client: KubeClient;
  try {
    client = new KubeClient(kc);
  } catch (err) {
    throw new CliError(`${(err as Error).message} (see \`kubectl config get-contexts\`)`);
  }
  const namespace = values.namespace || kc.getContextObject(context)?.namespace || 'default';
  return { client, namespace, context };
}

/** Who the API server says the caller is (SelfSubjectReview): the only identity a decision may carry. */
export async function whoAmI(client: KubeClient): Promise<{ username: string; groups: string[] }> {
  let review: { status?: { userInfo?: { username?: string; groups?: string[] } } };
  try {
    review = await client.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
  } catch (err) {
    if (err instanceof KubeError && err.code === 404) {
      throw new CliError('the API server does not serve authentication.k8s.io/v1 selfsubjectreviews (Kubernetes 1.28 or later is needed); without it your identity cannot be proven, so nothing was written');
    }
    throw err;
  }
  const info = review.status?.userInfo;
  if (!info?.username) throw new CliError('the API server did not say who you are (SelfSubjectReview returned no username); nothing was written');
  return { username: info.username, groups: [...new Set(info.groups ?? [])] };
}

export function approvalRequests(namespace?: string, name?: string, subresource?: string) {
  return {
    group, version, plural: 'approvalrequests',
    ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(subresource ? { subresource } : {}),
  };
}

/** kubectl's way of reporting what the API server said, message untouched. */
export function serverError(err: KubeError): string {
  return `Error from server (${err.reason}): ${err.message}`;
}
