// The gateway settings the operator ships beside the compiled rules in every bundle
// (data.toolgate.gateway) and the authorizer reads back: the upstream servers (credential
// references, never credentials) and how callers are authenticated. One schema for the writer's
// type and the reader's check, so the two cannot drift; servers and identity are the
// McpSecurityPolicy's own schemas, as the API server validated them.
import { Type, type Static } from '@sinclair/typebox';
import { AuditSettings, Identity, Server, ToolPinningSettings } from '../../api/v1alpha1/index.ts';
import { personalFieldPattern } from '../../api/v1alpha1/schema.ts';
import { contract } from './contract.ts';

/**
 * What the authorizer needs from an McpSecurityPolicy besides the compiled rules. The operator
 * ships it in the bundle's data.json at data.toolgate.gateway, so an authorizer needs no read
 * access to the policies themselves.
 */
export const GatewayConfigSchema = Type.Object({
  policy: Type.Object(
    {
      namespace: Type.String({ minLength: 1, description: 'Namespace of the McpSecurityPolicy.' }),
      name: Type.String({ minLength: 1, description: 'Name of the McpSecurityPolicy.' }),
    },
    { description: 'The McpSecurityPolicy this configuration was compiled from.' },
  ),
  servers: Type.Array(Server, { description: 'The governed upstream servers, sorted by name.' }),
  identity: Type.Optional(Identity),
  audit: Type.Optional(AuditSettings),
  /** Present: the authorizer pins the servers' tool definitions (McpToolPin) and tells the policy of changes. */
  toolPinning: Type.Optional(ToolPinningSettings),
  /** server → tool → argument fields profiles and toolOverrides mark personal: the audit redactor never keeps their values. */
  personalFields: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Array(Type.String({ pattern: personalFieldPattern }))))),
});

export type GatewayConfig = Static<typeof GatewayConfigSchema>;
export type GatewayServer = GatewayConfig['servers'][number];

export const gatewayConfigContract = contract('GatewayConfig', GatewayConfigSchema);

/** Where GatewayConfig sits in the bundle's data document. */
export const gatewayDataPath = ['toolgate', 'gateway'] as const;
