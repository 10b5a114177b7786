// Types shared by the authorizer's parts: the identity module produces a CallerIdentity, the
// bundle client produces a GatewayConfig beside each loaded policy, and both front ends
// (Envoy ext_authz and the MCP proxy) hand a ToolCall to the one decision path.
import type { Decision, ToolAnnotations } from '../../../pkg/policy/engine/types.ts';
export { gatewayDataPath, type GatewayConfig, type GatewayServer } from '../../../pkg/contracts/gateway.ts';

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

/** Who handed the gate the request: a front end, or `kubectl mcp explain` asking what they would answer. */
export type FrontEnd = 'ext_authz' | 'proxy' | 'explain';

/** A governed operation other than tools/call (resources, prompts, logging). */
export interface Operation {
  kind: 'resource' | 'prompt' | 'logging';
  /** The JSON-RPC method (resources/read, prompts/get, completion/complete, ...). */
  method: string;
  /** The resource URI or prompt name, exactly as forwarded; absent for logging. */
  target?: string;
}

/**
 * One decided MCP operation, as a front end hands it to the decision path: a tools/call, or,
 * with `operation`, a resource read, prompt get, completion or logging level (then `tool` is ''
 * and `arguments` and `annotations` are absent).
 */
export interface ToolCall {
  server: string;
  tool: string;
  operation?: Operation;
  arguments?: Record<string, unknown>;
  /** From the upstream server's tools/list (untrusted); absent when the front end cannot see it. */
  annotations?: ToolAnnotations;
  /** Labels the authorizer found on the tool's listed definition itself (risk:poisoning). */
  toolLabels?: string[];
  /** Set when the listed definition is not the accepted one (tool pinning): the policy answers toolPinning.onChange. */
  toolChange?: { accepted: string; listed: string };
  caller: CallerIdentity;
  sessionId?: string;
  /** JSON-RPC id of the request. */
  requestId?: string | number | null;
  /** The caller's stated purpose, params._meta["toolgate.io/purpose"] (audit/purpose.ts), for the decision record. */
  purpose?: string;
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
