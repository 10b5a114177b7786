// The pure parts of the bundle client: bundle names and URLs, the GatewayConfig inside a
// bundle's data document, and what a refusal from the bundle service said.
import { gatewayConfigContract, gatewayDataPath, type GatewayConfig } from '../../../pkg/contracts/gateway.ts';
import { isObject } from '../../../pkg/lang/is-object.ts';

/** A DNS-1123 label, as Kubernetes namespace and object names of McpSecurityPolicies are. */
const label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Checks a bundle name "<namespace>/<name>"; returns its parts. */
export function parseBundleName(bundle: string): { namespace: string; name: string } {
  const parts = bundle.split('/');
  const [namespace, name] = parts;
  if (parts.length !== 2 || !namespace || !name || !label.test(namespace) || !/^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/.test(name)) {
    throw new Error(`invalid bundle name ${JSON.stringify(bundle)}: expected "<namespace>/<name>" of an McpSecurityPolicy`);
  }
  return { namespace, name };
}

/** `<service>/bundles/<namespace>/<name>`; the service URL may carry a path prefix. */
export function bundleUrl(service: string, bundle: string): URL {
  const { namespace, name } = parseBundleName(bundle);
  const base = new URL(service);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`bundle service URL ${service} must be http or https`);
  if (base.search || base.hash || base.username || base.password) throw new Error('bundle service URL must not carry a query, fragment or credentials');
  const prefix = base.pathname.replace(/\/+$/, '');
  return new URL(`${prefix}/bundles/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, base);
}

/** The revision inside an entity tag ("abc", W/"abc"), or undefined when there is none. */
export function etagRevision(etag: string | undefined): string | undefined {
  const m = /^(?:W\/)?"([^"]*)"$/.exec(etag?.trim() ?? '');
  return m?.[1] || undefined;
}

/**
 * The GatewayConfig at data.toolgate.gateway; undefined when the bundle carries none (older
 * operators). Throws, naming the field and what it must hold, when it is there but does not
 * match the contract (pkg/contracts/gateway.ts), or when it belongs to a policy other than the
 * bundle's: a front end must never route with another policy's servers.
 */
export function gatewayConfigOf(data: unknown, bundle: string): GatewayConfig | undefined {
  let node: unknown = data;
  for (const key of gatewayDataPath) node = isObject(node) ? node[key] : undefined;
  if (node === undefined) return undefined;
  const gateway = gatewayConfigContract.check(node, `data.${gatewayDataPath.join('.')}`);
  const { namespace, name } = gateway.policy;
  if (`${namespace}/${name}` !== bundle) {
    throw new Error(`data.${gatewayDataPath.join('.')}.policy is ${namespace}/${name}, expected ${bundle} (the bundle's own policy)`);
  }
  return gateway;
}

/**
 * A one-line reason for a refused poll: the status and the message of the service's
 * {code, message} error body (cut short; never the request's token, which the body cannot hold).
 */
export function refusalReason(status: number, body: Buffer): string {
  let message = '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    message = '';
  }
  // Control characters out, so a hostile body cannot forge log lines.
  message = [...message].map((c) => (c < ' ' || c === '\x7f' ? ' ' : c)).join('').slice(0, 300);
  return `HTTP ${status}${message ? `: ${message}` : ''}`;
}
