// The input and result documents of the toolgate decision program (pkg/policy/rego,
// CONTRACT.md). The Rego is the authority; the result's type is its schema in
// pkg/contracts/decision.ts, which check.ts applies to every result.
export { actions, type Action, type Decision } from '../../contracts/decision.ts';

/** MCP tool annotations as the upstream server reported them in tools/list (untrusted). */
export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  secretHint?: boolean;
  [other: string]: unknown;
}

export interface Caller {
  /** The agent making the call (token's agent claim). */
  agent?: string;
  /** The human operator on whose behalf it acts. */
  operator?: string;
  /** Role names from spec.identity.roles the caller holds. */
  roles?: string[];
  /** OAuth scopes of the caller's token. */
  scopes?: string[];
}

/** One decided operation as the authorizer presents it to the policy (CONTRACT.md). */
export interface PolicyInput {
  /** Governed server name (spec.servers[].name). */
  server: string;
  /** Absent: tool. */
  kind?: 'tool' | 'resource' | 'prompt' | 'logging';
  /** Tool name as the server reports it (kind tool only). */
  tool?: string;
  /** Resource URI as forwarded (kind resource only). */
  resource?: string;
  /** Prompt name (kind prompt only). */
  prompt?: string;
  /** params.arguments of the tools/call; absent means none. */
  arguments?: Record<string, unknown>;
  annotations?: ToolAnnotations;
  /** The caller stated a purpose (params._meta["toolgate.io/purpose"]); the text stays out of the policy. */
  purposeStated?: boolean;
  caller?: Caller;
  [other: string]: unknown;
}

export interface ResolvedAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
  secretHint: boolean;
}

export type Classification =
  | {
    valid: true;
    server: string;
    tool: string;
    known: boolean;
    annotations: ResolvedAnnotations;
    verb: string;
    labels: string[];
    scopes: string[];
    sources: string[];
  }
  | { valid: false; errors: string[] };

/** Rule names of decisions no McpSecurityPolicy rule made. */
export const RULES = {
  noPolicy: 'toolgate:no-policy',
  evaluationError: 'toolgate:evaluation-error',
  noData: 'toolgate:no-data',
  invalidInput: 'toolgate:invalid-input',
  unknownServer: 'toolgate:unknown-server',
  roleGrant: 'toolgate:role-grant',
  missingScope: 'toolgate:missing-scope',
  purposeRequired: 'toolgate:purpose-required',
  default: 'toolgate:default',
  internalError: 'toolgate:internal-error',
} as const;

export const ENTRYPOINTS = { decision: 'toolgate/decision', classification: 'toolgate/classification' } as const;
