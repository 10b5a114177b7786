// Types shared by the authorizer's parts: the identity module produces a CallerIdentity, the
// bundle client produces a GatewayConfig beside each loaded policy, and both front ends
// (Envoy ext_authz and the MCP proxy) hand a ToolCall to the one decision path.
import type { Identity, McpSecurityPolicySpec } from '../../../api/v1alpha1/index.ts';
import type { Decision, ToolAnnotations } from '../engine/types.ts';

/** Who is calling, as proven by a verified bearer token. */
export interface CallerIdentity {
  /** Token `sub`. */
  subject: string;
  /** Token `iss`. */
  issuer: string;
  /** The agent making the call (identity.agentClaim, default `azp`). */
  agent?: string;
  /** The human operator on whose behalf it acts (identity.operatorClaim, default `sub`). */
  operator?: string;
  /** Role names from spec.identity.roles the agent or the operator holds. */
  roles: string[];
  /** OAuth scopes of the token (`scope` or `scp`). */
  scopes: string[];
  /** Token `exp`. */
  expiresAt?: Date;
  /** Token `jti`, for audit. */
  tokenId?: string;
}

export type GatewayServer = McpSecurityPolicySpec['servers'][number];

/**
 * What the authorizer needs from an McpSecurityPolicy besides the compiled rules: the upstream
 * servers (credential references, never credentials) and how callers are authenticated. The
 * operator ships it in the bundle's data.json at data.toolgate.gateway, so an authorizer
 * needs no read access to the policies themselves.
 */
export interface GatewayConfig {
  policy: { namespace: string; name: string };
  servers: GatewayServer[];
  identity?: Identity;
}

/** Where GatewayConfig sits in the bundle's data document. */
export const gatewayDataPath = ['toolgate', 'gateway'] as const;

export type FrontEnd = 'ext_authz' | 'proxy';

/** One MCP tools/call, as a front end hands it to the decision path. */
export interface ToolCall {
  server: string;
  tool: string;
  arguments?: Record<string, unknown>;
  /** From the upstream server's tools/list (untrusted); absent when the front end cannot see it. */
  annotations?: ToolAnnotations;
  caller: CallerIdentity;
  sessionId?: string;
  /** JSON-RPC id of the request. */
  requestId?: string | number | null;
  frontEnd: FrontEnd;
}

/** The decision path's answer for one ToolCall. */
export interface Verdict {
  /** Unique id of this decision, returned to the client and written to the audit trail. */
  decisionId: string;
  decision: Decision;
  /** Bundle revision that decided; '' when no bundle was loaded. */
  revision: string;
  /** What the front end must do: dry run and allow both proceed. */
  effect: 'proceed' | 'deny' | 'hold';
}
