// Authenticate for ext_authz: the policy governing the route's server says how its callers are
// authenticated (spec.identity, shipped in the bundle at data.toolgate.gateway), and the
// identity module verifies the bearer token against it. One verifier per policy, rebuilt only
// when that policy's identity settings change, so the JWKS cache survives bundle reloads.
import { ErrorCodes } from '../gateway/jsonrpc.ts';
import type { PolicyRouter } from '../gateway/policy-router.ts';
import { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from '../identity/index.ts';
import { ExtAuthzRefusal, type Authenticate } from './check.ts';

export function routerAuthenticator(router: PolicyRouter, opts: TokenVerifierOptions = {}): Authenticate {
  const verifiers = new Map<string, { settings: string; verifier: TokenVerifier }>();
  return async (headers, server) => {
    const route = router.route(server);
    if (!route.ok) {
      if (route.reason === 'not-loaded') throw new ExtAuthzRefusal(503, ErrorCodes.policyUnavailable, `policy unavailable, call refused: ${route.message}`);
      throw new ExtAuthzRefusal(route.reason === 'unknown-server' ? 404 : 500, ErrorCodes.invalidRequest, route.message);
    }
    const identity = route.entry.gateway?.identity;
    if (!identity) {
      throw new ExtAuthzRefusal(500, ErrorCodes.invalidRequest, `policy ${route.entry.key} has no spec.identity: callers of server "${server}" cannot be authenticated`);
    }
    const settings = JSON.stringify(identity);
    let cached = verifiers.get(route.entry.key);
    if (cached?.settings !== settings) verifiers.set(route.entry.key, (cached = { settings, verifier: createTokenVerifier(identity, opts) }));
    return cached.verifier.verify(headers.authorization, { url: headers[':path'] ?? '' });
  };
}
