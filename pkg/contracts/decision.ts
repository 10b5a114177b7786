// The result document of the toolgate decision program (pkg/policy/rego, CONTRACT.md), as the
// authorizer reads it from the wasm. The Rego is the authority; this is what it promises. Open
// to further fields, so an operator that ships a newer Rego during an upgrade does not make
// older authorizers deny every call.
import { Type, type Static } from '@sinclair/typebox';
import { contract, StringEnum } from './contract.ts';

export const actions = ['allow', 'deny', 'require_approval'] as const;
export type Action = (typeof actions)[number];

const ActionSchema = StringEnum(actions, { description: 'allow, deny or require_approval.' });
const hint = (what: string) => Type.Optional(Type.Boolean({ description: what }));

export const DecisionSchema = Type.Object({
  action: ActionSchema,
  rule: Type.String({ minLength: 1, description: 'The matched rule\'s name, or a toolgate:* outcome (see RULES).' }),
  reasons: Type.Array(Type.String()),
  labels: Type.Array(Type.String()),
  annotations: Type.Object(
    {
      readOnlyHint: hint('Resolved MCP readOnlyHint.'),
      destructiveHint: hint('Resolved MCP destructiveHint.'),
      idempotentHint: hint('Resolved MCP idempotentHint.'),
      openWorldHint: hint('Resolved MCP openWorldHint.'),
      secretHint: hint('Resolved secretHint.'),
    },
    { additionalProperties: Type.Boolean(), description: 'Empty when the call could not be classified (invalid input, unknown server, no policy).' },
  ),
  verb: Type.String({ description: 'get, list, create, update, delete, or "" when no layer named one.' }),
  approvers: Type.Array(Type.String()),
  quorum: Type.Integer({ minimum: 0 }),
  timeout: Type.String(),
  enforcement: StringEnum(['enforce', 'dryrun'] as const),
  dryRunAction: Type.Optional(StringEnum(actions, { description: 'In dry run: what enforcement would have answered (action is then always allow).' })),
  sources: Type.Array(Type.String(), { description: 'Classification layers that contributed, lowest authority first.' }),
  session: Type.Optional(
    Type.Object(
      {
        counted: Type.Array(Type.String(), { description: 'Velocity limits the call counts toward once let through.' }),
        taints: Type.Array(Type.String(), { description: 'Source labels the call taints its session with once let through.' }),
        sink: Type.Boolean({ description: 'The call matches some flow rule\'s sink conditions.' }),
        constraint: Type.Optional(Type.Object(
          {
            kind: StringEnum(['limit', 'flow'] as const),
            name: Type.String(),
            action: StringEnum(['deny', 'require_approval'] as const),
            reason: Type.String(),
          },
          { description: 'The limit or flow rule that applies to the call (it decided it unless a rule denied it).' },
        )),
      },
      { description: 'Present when the policy has spec.session: what the session state made of the call.' },
    ),
  ),
  policy: Type.Optional(
    Type.Object(
      { namespace: Type.Optional(Type.String()), name: Type.Optional(Type.String()) },
      { description: 'The McpSecurityPolicy the data was compiled from; {} when unknown.' },
    ),
  ),
});

export type Decision = Static<typeof DecisionSchema>;

export const decisionContract = contract('decision', DecisionSchema);
