// Authenticate for ext_authz: the token verified against the identity settings of the policy
// governing the route's server. The verifier cache lives in gateway/authenticate.ts, shared with
// the MCP proxy; this adapter only turns a failed lookup into a GatewayAuthRefusal.
import type { PolicyRouter } from '../gate/policy-router.ts';
import { GatewayAuthRefusal, PolicyVerifiers } from '../gate/authenticate.ts';
import type { TokenVerifierOptions } from '../identity/index.ts';
import type { Authenticate } from './check.ts';

export { PolicyVerifiers } from '../gate/authenticate.ts';

/** Pass `verifiers` to share one verifier cache (and JWKS fetches) with the proxy. */
export function routerAuthenticator(router: PolicyRouter, opts: TokenVerifierOptions = {}, verifiers = new PolicyVerifiers(router, opts)): Authenticate {
  return async (headers, server) => {
    const found = verifiers.forServer(server);
    if (!found.ok) throw new GatewayAuthRefusal(found.httpStatus, found.code, found.message);
    return found.verifier.verify(headers.authorization, { url: headers[':path'] ?? '' });
  };
}
