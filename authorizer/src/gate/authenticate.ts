// Caller authentication shared by both front ends. A policy says how its callers are
// authenticated (spec.identity, shipped in the bundle at data.toolgate.gateway); the identity
// module verifies bearer tokens against it. One verifier per policy, rebuilt only when that
// policy's identity settings change, so the JWKS cache survives bundle reloads; both front ends
// use the same PolicyVerifiers, so they share that cache and refuse the same tokens.
//
// ext_authz knows the governed server of each request (the route says), so it authenticates
// against that server's policy. The proxy serves every governed server behind one endpoint and
// must authenticate before it knows which tool will be called: it accepts only when every
// loaded policy authenticates the same way, and refuses (naming the policies) otherwise.
import type { Identity } from '../../../api/v1alpha1/index.ts';
import { createTokenVerifier, protectedResourceMetadataUrl, type TokenVerifier, type TokenVerifierOptions } from '../identity/index.ts';
import { ErrorCodes } from './jsonrpc.ts';
import type { PolicyEntry, PolicyRouter } from './policy-router.ts';
import type { CallerIdentity } from './types.ts';

export type VerifierLookup =
  | { ok: true; verifier: TokenVerifier; identity: Identity; policy: string }
  | { ok: false; httpStatus: 404 | 500 | 503; code: number; message: string };

/** What a front end knows about a request when it authenticates the caller. */
export interface AuthenticationRequest {
  /** The Authorization header as received. */
  authorization: string | undefined;
  /** Request path and query: a token in the query is refused. */
  url: string;
  /** The governed server the route names (ext_authz); absent behind the proxy, which serves them all. */
  server?: string;
}

/** Proves the caller; throws AuthenticationError or GatewayAuthRefusal to refuse. */
export type Authenticate = (request: AuthenticationRequest) => Promise<CallerIdentity>;

/** Refusal before any token was looked at: no policy loaded, or no identity settings to check it with. */
export class GatewayAuthRefusal extends Error {
  override name = 'GatewayAuthRefusal';
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class PolicyVerifiers {
  readonly #router: PolicyRouter;
  readonly #opts: TokenVerifierOptions;
  /** Per policy: the identity object last seen, its settings as JSON, and the verifier built for them. */
  readonly #cache = new Map<string, { identity: Identity; settings: string; verifier?: TokenVerifier }>();

  constructor(router: PolicyRouter, opts: TokenVerifierOptions = {}) {
    this.#router = router;
    this.#opts = opts;
  }

  /** The verifier of the policy governing `server`. */
  forServer(server: string): VerifierLookup {
    const route = this.#router.route(server);
    if (!route.ok) {
      if (route.reason === 'not-loaded') return { ok: false, httpStatus: 503, code: ErrorCodes.policyUnavailable, message: `policy unavailable, call refused: ${route.message}` };
      return { ok: false, httpStatus: route.reason === 'unknown-server' ? 404 : 500, code: ErrorCodes.invalidRequest, message: route.message };
    }
    return this.#forEntry(route.entry, `callers of server "${server}"`);
  }

  /** The one verifier that fits every loaded policy (the proxy's case). */
  forAll(): VerifierLookup {
    const keys = this.#router.keys();
    const entries = keys.map((k) => this.#router.entry(k));
    const missing = entries.filter((e) => !e.gateway).map((e) => e.key);
    if (keys.length === 0 || missing.length > 0) {
      return { ok: false, httpStatus: 503, code: ErrorCodes.policyUnavailable, message: `policy unavailable, call refused: no bundle loaded yet for ${missing.join(', ') || 'any policy'}` };
    }
    const distinct = new Map<string, string[]>();
    for (const e of entries) {
      const s = this.#settings(e)?.settings ?? 'null';
      distinct.set(s, [...(distinct.get(s) ?? []), e.key]);
    }
    if (distinct.size > 1) {
      const groups = [...distinct.values()].map((g) => g.join(' + ')).join(' vs ');
      return { ok: false, httpStatus: 500, code: ErrorCodes.invalidRequest, message: `the policies behind this endpoint authenticate callers differently (${groups}): spec.identity must be identical for the MCP proxy` };
    }
    return this.#forEntry(entries[0]!, 'callers of the MCP proxy');
  }

  /** Identity settings of every loaded policy (for the RFC 9728 metadata). */
  identities(): Identity[] {
    const out: Identity[] = [];
    for (const k of this.#router.keys()) {
      const id = this.#router.entry(k).gateway?.identity;
      if (id) out.push(id);
    }
    return out;
  }

  #forEntry(entry: PolicyEntry, who: string): VerifierLookup {
    const cached = this.#settings(entry);
    if (!cached) {
      return { ok: false, httpStatus: 500, code: ErrorCodes.invalidRequest, message: `policy ${entry.key} has no spec.identity: ${who} cannot be authenticated` };
    }
    cached.verifier ??= createTokenVerifier(cached.identity, this.#opts);
    return { ok: true, verifier: cached.verifier, identity: cached.identity, policy: entry.key };
  }

  /**
   * The entry's identity settings. Serialized only when a bundle load brings a new identity
   * object, not per request; equal settings keep their verifier (and its JWKS cache).
   */
  #settings(entry: PolicyEntry): { identity: Identity; settings: string; verifier?: TokenVerifier } | undefined {
    const identity = entry.gateway?.identity;
    if (!identity) return undefined;
    let cached = this.#cache.get(entry.key);
    if (cached?.identity !== identity) {
      const settings = JSON.stringify(identity);
      cached = { identity, settings, ...(cached?.settings === settings && cached.verifier ? { verifier: cached.verifier } : {}) };
      this.#cache.set(entry.key, cached);
    }
    return cached;
  }
}

/** The verifier for a request: the route's server's policy, or the one every policy shares. */
export function verifierFor(verifiers: PolicyVerifiers, server: string | undefined): VerifierLookup {
  if (server === undefined) return verifiers.forAll();
  const found = verifiers.forServer(server);
  // A server no policy governs is denied by the decision, as the proxy denies it: its callers are
  // authenticated like the proxy's, so the answer does not depend on the front end and an
  // unauthenticated client learns nothing about which server names are governed.
  if (!found.ok && found.httpStatus === 404) {
    const all = verifiers.forAll();
    if (all.ok) return all;
  }
  return found;
}

/** Authenticate with the identity settings of the policies themselves (what the authorizer uses). */
export function policyAuthenticator(verifiers: PolicyVerifiers): Authenticate {
  return async (r) => {
    const found = verifierFor(verifiers, r.server);
    if (!found.ok) throw new GatewayAuthRefusal(found.httpStatus, found.code, found.message);
    return found.verifier.verify(r.authorization, { url: r.url });
  };
}

/** RFC 9728 metadata URL of an audience, when the audience is a URL at all. */
export function metadataUrlOf(audience: string): string | undefined {
  // RFC 9728 §3.1 derives the well-known URL from an https (or, in tests, http) resource only.
  if (!/^https?:\/\//i.test(audience)) return undefined;
  try {
    return protectedResourceMetadataUrl(audience);
  } catch {
    return undefined;
  }
}
