// OAuth 2.0 Protected Resource Metadata (RFC 9728): how an MCP client that got a 401 finds the
// authorization server for this gateway. Served at the well-known URI derived from each
// resource identifier (§3.1: inserted between host and path).
import type { IncomingMessage, ServerResponse } from 'node:http';

export const wellKnownPrefix = '/.well-known/oauth-protected-resource';

export interface ProtectedResourceMetadataInput {
  /** The resource identifier: the gateway's MCP endpoint URI, equal to the tokens' `aud`. */
  resource: string;
  /** Issuer identifiers of the authorization servers that issue tokens for this resource. */
  authorizationServers: string[];
  scopesSupported?: string[];
  resourceName?: string;
  resourceDocumentation?: string;
  resourcePolicyUri?: string;
  resourceTosUri?: string;
  jwksUri?: string;
}

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: ['header'];
  scopes_supported?: string[];
  resource_name?: string;
  resource_documentation?: string;
  resource_policy_uri?: string;
  resource_tos_uri?: string;
  jwks_uri?: string;
}

export function protectedResourceMetadata(input: ProtectedResourceMetadataInput): ProtectedResourceMetadata {
  const resource = new URL(input.resource);
  // §2: the resource identifier has no fragment; §3.3 requires an exact match with the URL used.
  if (resource.hash) throw new TypeError(`resource ${input.resource} must not contain a fragment`);
  if (!input.authorizationServers.length) throw new TypeError('authorizationServers must name at least one issuer');
  const doc: ProtectedResourceMetadata = {
    resource: input.resource,
    authorization_servers: [...input.authorizationServers],
    // Only the Authorization header: MCP forbids tokens in the query, and we do not read bodies for them.
    bearer_methods_supported: ['header'],
  };
  if (input.scopesSupported?.length) doc.scopes_supported = [...new Set(input.scopesSupported)];
  if (input.resourceName) doc.resource_name = input.resourceName;
  if (input.resourceDocumentation) doc.resource_documentation = input.resourceDocumentation;
  if (input.resourcePolicyUri) doc.resource_policy_uri = input.resourcePolicyUri;
  if (input.resourceTosUri) doc.resource_tos_uri = input.resourceTosUri;
  if (input.jwksUri) doc.jwks_uri = input.jwksUri;
  return doc;
}

/** Path of the resource identifier without a trailing slash ('' for the origin itself). */
function resourcePath(resource: string): string {
  const u = new URL(resource);
  return `${u.pathname.replace(/\/+$/, '')}${u.search}`;
}

/** The metadata URL for a resource (RFC 9728 §3.1): the value for WWW-Authenticate's resource_metadata. */
export function protectedResourceMetadataUrl(resource: string): string {
  return `${new URL(resource).origin}${wellKnownPrefix}${resourcePath(resource)}`;
}

/**
 * A node:http handler for the well-known URIs of the given resources. It returns false for
 * requests it does not own, so it composes in front of other routes. The bare well-known path
 * serves the resource whose path is empty, or the only resource when there is one (clients
 * of the 2025-06-18 MCP spec look there first).
 */
export function protectedResourceMetadataHandler(documents: ProtectedResourceMetadata | ProtectedResourceMetadata[]) {
  const docs = Array.isArray(documents) ? documents : [documents];
  const byPath = new Map<string, string>();
  for (const d of docs) byPath.set(resourcePath(d.resource), JSON.stringify(d));
  if (!byPath.has('') && docs.length === 1 && docs[0]) byPath.set('', JSON.stringify(docs[0]));

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== wellKnownPrefix && !url.pathname.startsWith(`${wellKnownPrefix}/`)) return false;
    const headers = { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...headers, 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': 'mcp-protocol-version' }).end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD, OPTIONS', 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'method_not_allowed', error_description: `${req.method} is not allowed; use GET` }));
      return true;
    }
    const suffix = url.pathname.slice(wellKnownPrefix.length).replace(/\/+$/, '') + url.search;
    const body = byPath.get(suffix);
    if (body === undefined) {
      res.writeHead(404, { ...headers, 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'not_found', error_description: `no protected resource at path ${JSON.stringify(suffix || '/')}` }));
      return true;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
