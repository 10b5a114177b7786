// Authenticate for ext_authz: the token verified against the identity settings of the policy
// governing the route's server. The verifier cache lives in gateway/authenticate.ts, shared with
// the MCP proxy; this adapter only turns a failed lookup into an ExtAuthzRefusal.
import type { PolicyRouter } from '../gateway/policy-router.ts';
import { PolicyVerifiers } from '../gateway/authenticate.ts';
import type { TokenVerifierOptions } from '../identity/index.ts';
import { ExtAuthzRefusal, type Authenticate } from './check.ts';

export { PolicyVerifiers } from '../gateway/authenticate.ts';

/** Pass `verifiers` to share one verifier cache (and JWKS fetches) with the proxy. */
export function routerAuthenticator(router: PolicyRouter, opts: TokenVerifierOptions = {}, verifiers = new PolicyVerifiers(router, opts)): Authenticate {
  return async (headers, server) => {
    const found = verifiers.forServer(server);
    if (!found.ok) throw new ExtAuthzRefusal(found.httpStatus, found.code, found.message);
    return found.verifier.verify(headers.authorization, { url: headers[':path'] ?? '' });
  };
}
