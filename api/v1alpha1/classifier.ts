// Argument classifiers: one condition on one field of a tools/call's arguments, which adds
// labels when it holds. Shared by McpProfile tools and McpSecurityPolicy classifiers.
import { Bool, Labels, Str, Type, type Static } from './schema.ts';

/** `to`, `message.recipients[*]`, `items[0].amount`: object keys joined by dots, `[*]` for every element. */
export const fieldPathPattern = '^[A-Za-z0-9_$-]+(\\[(\\*|[0-9]+)\\])*(\\.[A-Za-z0-9_$-]+(\\[(\\*|[0-9]+)\\])*)*$';

export const classifierConditionKeys = [
  'contains',
  'notContains',
  'matches',
  'notMatches',
  'equals',
  'present',
  'greaterThan',
  'lessThan',
  'lengthGreaterThan',
  'lengthLessThan',
] as const;
export type ClassifierConditionKey = (typeof classifierConditionKeys)[number];

export const classifierRuleProperties = {
  field: Str(
    'Path into the call\'s arguments: keys joined by dots, `[*]` for every array element, `[N]` for one (for example `to`, `recipients[*].email`). With `[*]` a positive condition holds when any element satisfies it and a negative one when none does.',
    { pattern: fieldPathPattern, maxLength: 256 },
  ),
  contains: Type.Optional(Str('Holds when the value (a string, or any string in an array) contains this text. `{variable}` is replaced by the policy\'s tenant variable.', { maxLength: 1024 })),
  notContains: Type.Optional(Str('Holds when the value is present and neither it nor any string in it contains this text. `{variable}` is replaced by the tenant variable.', { maxLength: 1024 })),
  matches: Type.Optional(Str('Holds when the value (or any string in an array) matches this RE2 regular expression. `{variable}` is replaced by the tenant variable.', { maxLength: 1024 })),
  notMatches: Type.Optional(Str('Holds when the value is present and neither it nor any string in it matches this RE2 regular expression.', { maxLength: 1024 })),
  equals: Type.Optional(Str('Holds when the value, rendered as a string, equals this text exactly.', { maxLength: 1024 })),
  present: Type.Optional(Bool('true: holds when the field is present and not null; false: holds when it is absent or null.')),
  greaterThan: Type.Optional(Type.Number({ description: 'Holds when the value is a number greater than this.' })),
  lessThan: Type.Optional(Type.Number({ description: 'Holds when the value is a number less than this.' })),
  lengthGreaterThan: Type.Optional(Type.Integer({ description: 'Holds when the value is an array, string or object with more than this many elements, characters or keys (for example more than 50 recipients).', minimum: 0 })),
  lengthLessThan: Type.Optional(Type.Integer({ description: 'Holds when the value is an array, string or object with fewer than this many elements, characters or keys.', minimum: 0 })),
  setLabels: Labels('Labels added to the call when the condition holds (for example `scope:external`).'),
};

// A sum of constants rather than a list filter: CEL's cost estimate multiplies a rule by every
// enclosing list's maxItems, and the list form exceeds the API server's budget.
const exactlyOneCondition = {
  rule: `${classifierConditionKeys.map((k) => `(has(self.${k}) ? 1 : 0)`).join(' + ')} == 1`,
  message: `exactly one condition must be set: one of ${classifierConditionKeys.join(', ')}`,
};

export const ClassifierRule = Type.Object(classifierRuleProperties, {
  description: 'One condition on one argument field; when it holds, setLabels are added to the call.',
  'x-kubernetes-validations': [exactlyOneCondition],
});
export type ClassifierRule = Static<typeof ClassifierRule>;

export const ServerToolClassifier = Type.Object(
  {
    server: Str('Name of the governed server (spec.servers[].name) whose tool this classifies.', { maxLength: 63 }),
    tool: Str('Tool name as the MCP server reports it.', { maxLength: 256, minLength: 1 }),
    ...classifierRuleProperties,
  },
  {
    description: 'An argument classifier for one tool of one server.',
    'x-kubernetes-validations': [exactlyOneCondition],
  },
);
export type ServerToolClassifier = Static<typeof ServerToolClassifier>;
