// The gateway settings the operator ships beside the compiled rules in every bundle
// (data.toolgate.gateway) and the authorizer reads back: the upstream servers (credential
// references, never credentials) and how callers are authenticated. Shared so the writer and
// the reader cannot drift.
import type { Identity, McpSecurityPolicySpec } from '../../api/v1alpha1/index.ts';

export type GatewayServer = McpSecurityPolicySpec['servers'][number];

/**
 * What the authorizer needs from an McpSecurityPolicy besides the compiled rules. The operator
 * ships it in the bundle's data.json at data.toolgate.gateway, so an authorizer needs no read
 * access to the policies themselves.
 */
export interface GatewayConfig {
  policy: { namespace: string; name: string };
  servers: GatewayServer[];
  identity?: Identity;
}

/** Where GatewayConfig sits in the bundle's data document. */
export const gatewayDataPath = ['toolgate', 'gateway'] as const;
