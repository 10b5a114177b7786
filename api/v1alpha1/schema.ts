// Builders for CRD-compatible ("structural") JSON Schema with static TypeScript types.
// TypeBox gives us the type and the schema from one declaration; these helpers keep to the
// subset Kubernetes accepts (no anyOf/patternProperties, enums as `enum`, maps as
// additionalProperties) so the same object is the CRD schema, the ajv validator and the type.
import { Type, type TSchema, type TProperties, type ObjectOptions, type SchemaOptions } from '@sinclair/typebox';

export { Type };
export type { Static, TSchema } from '@sinclair/typebox';

/** A string restricted to the given values (rendered as a CRD `enum`). */
export function Enum<const T extends readonly string[]>(values: T, options: SchemaOptions & { description: string }) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A map of string to string (`additionalProperties: {type: string}`). */
export function StringMap(options: SchemaOptions & { description: string }) {
  return Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, ...options });
}

/** A free-form JSON object kept as is by the API server. */
export function FreeForm(options: SchemaOptions & { description: string }) {
  return Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
    ...options,
  });
}

/** An object whose every field is documented: the description is required, not optional. */
export function Obj<T extends TProperties>(properties: T, options: ObjectOptions & { description: string }) {
  return Type.Object(properties, options);
}

export function Str(description: string, options: SchemaOptions = {}) {
  return Type.String({ description, ...options });
}

export function Bool(description: string, options: SchemaOptions = {}) {
  return Type.Boolean({ description, ...options });
}

export function Int(description: string, options: SchemaOptions = {}) {
  return Type.Integer({ description, ...options });
}

export function List<T extends TSchema>(items: T, description: string, options: SchemaOptions = {}) {
  return Type.Array(items, { description, ...options });
}

/** A list of unique strings (`x-kubernetes-list-type: set`). */
export function StringSet(description: string, itemOptions: SchemaOptions = {}, options: SchemaOptions = {}) {
  return Type.Array(Type.String(itemOptions), { description, 'x-kubernetes-list-type': 'set', ...options });
}

/** A Kubernetes duration such as `30s`, `15m`, `24h` or `1h30m`. */
export const durationPattern = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
export function Duration(description: string) {
  return Type.String({ description, pattern: durationPattern, maxLength: 32 });
}

/** DNS-1123 label: lower-case alphanumerics and '-', used for server names. */
export const dnsLabelPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** metav1.Condition, as every Kubernetes API uses it. */
export const Condition = Obj(
  {
    type: Str('Type of the condition, in CamelCase (for example Ready, Accepted, Compiled).', { maxLength: 316 }),
    status: Enum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition: True, False or Unknown.' }),
    observedGeneration: Type.Optional(
      Int('The metadata.generation of the object this condition was computed from.', { minimum: 0, format: 'int64' }),
    ),
    lastTransitionTime: Str('When the condition last changed its status.', { format: 'date-time' }),
    reason: Str('Machine-readable CamelCase reason for the last transition.', {
      maxLength: 1024,
      minLength: 1,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Str('Human-readable message; for a failure it names the field at fault.', { maxLength: 32768 }),
  },
  { description: 'One observation of the object\'s state (metav1.Condition).' },
);

export function Conditions(description = 'Current state of the object, one entry per condition type.') {
  return Type.Array(Condition, {
    description,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    maxItems: 16,
  });
}

/** The standard MCP tool annotations (hints) plus the tracked proposals. */
export function hintProperties(subject: string) {
  return {
    readOnlyHint: Type.Optional(Bool(`${subject} does not modify its environment (MCP readOnlyHint).`)),
    destructiveHint: Type.Optional(Bool(`${subject} may perform destructive updates (MCP destructiveHint).`)),
    idempotentHint: Type.Optional(Bool(`Repeating ${subject} with the same arguments has no further effect (MCP idempotentHint).`)),
    openWorldHint: Type.Optional(Bool(`${subject} may interact with external entities (MCP openWorldHint).`)),
    secretHint: Type.Optional(Bool(`${subject}'s result may contain secrets (proposed MCP secretHint, SEP-1560).`)),
  };
}

export const verbs = ['get', 'list', 'create', 'update', 'delete'] as const;
export type Verb = (typeof verbs)[number];

/** A namespaced label such as `scope:external` or `data:pii`. */
export const labelPattern = '^[a-z0-9][a-z0-9.-]*:[A-Za-z0-9][A-Za-z0-9._/-]*$';
export function Labels(description: string) {
  return StringSet(description, { pattern: labelPattern, maxLength: 128 }, { maxItems: 64 });
}

/** An argument field path: keys joined by dots, `[*]` for every array element, `[N]` for one (pkg/redact reads it). */
export const personalFieldPattern = '^[A-Za-z0-9_$-]+(\\[(\\*|[0-9]+)\\])*(\\.[A-Za-z0-9_$-]+(\\[(\\*|[0-9]+)\\])*)*$';
export function PersonalFields(subject: string) {
  return StringSet(`Argument fields of ${subject} whose values are personal data (for example \`customer.email\`, \`recipients[*].name\`: keys joined by dots, \`[*]\` for every array element): `
    + 'the audit record never keeps their values, whatever they look like.', { pattern: personalFieldPattern, maxLength: 256 }, { maxItems: 64 });
}
