// JSON Schemas (draft-07, which every YAML language server reads)
// of the file formats: mcp-security.yaml and community packs. Built from the same vocabulary the
// importer reads and from the CRDs' own patterns, so an editor refuses what import refuses (the
// importer stays the last word: it also checks lines, duplicates and cross-references).
import { classifierConditionKeys } from '../../api/v1alpha1/index.ts';
import { conditionFileKey, hintKeys, numericConditions, patterns, profileRefKeys, supportedVersions } from './vocabulary.ts';

type Schema = Record<string, unknown>;
/** Where the repository publishes schemas/ (raw files of the main branch). */
export const schemaBase = 'https://raw.githubusercontent.com/toolgate/toolgate/main/schemas';
const base = schemaBase;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const set = (items: Schema, description: string): Schema => ({ type: 'array', items, uniqueItems: true, description });
const label = str('A namespaced label, namespace:value (for example scope:external).', { pattern: patterns.label.source, maxLength: 128 });
const verb = { type: 'string', enum: ['get', 'list', 'create', 'update', 'delete'], description: 'Kubernetes-style verb of the operation.' };
const serverName = { pattern: patterns.server.source, maxLength: 63 };
const hints: Schema = Object.fromEntries(hintKeys.map((h) => [h, { type: 'boolean', description: `MCP ${h}.` }]));

const classifier: Schema = {
  type: 'object',
  description: 'One condition on one argument field; when it holds, set_labels are added to the call. Exactly one condition.',
  additionalProperties: false,
  required: ['field', 'set_labels'],
  properties: {
    field: str('Path into the arguments: keys joined by dots, [*] for every element, [N] for one.', { pattern: patterns.field.source, maxLength: 256 }),
    ...Object.fromEntries(classifierConditionKeys.map((k) => [conditionFileKey(k),
      k === 'present' ? { type: 'boolean', description: 'true: the field is present and not null; false: absent or null.' }
        : numericConditions.includes(k) ? { type: k.startsWith('length') ? 'integer' : 'number', ...(k.startsWith('length') ? { minimum: 0 } : {}), description: `Holds when the value is ${k}.` }
          : str(`Holds when the value ${k.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)} this; {variable} is a tenant variable.`, { maxLength: 1024 })])),
    set_labels: set(label, 'Labels added when the condition holds.'),
  },
  oneOf: classifierConditionKeys.map((k) => ({ required: [conditionFileKey(k)] })),
};

const tool = (extra: Schema = {}): Schema => ({
  type: 'object',
  additionalProperties: false,
  properties: { ...hints, verb, labels: set(label, 'Labels every call of the tool carries.'), scopes: set({ type: 'string', maxLength: 256 }, 'OAuth scopes a caller needs.'), ...extra },
});

const perServerTool = (value: Schema, description: string): Schema => ({
  type: 'object', description,
  propertyNames: serverName,
  additionalProperties: { type: 'object', description: 'Tools of this server, by name.', additionalProperties: value },
});

export const securityFileSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: `${base}/mcp-security.schema.json`,
  title: 'mcp-security.yaml',
  description: 'A toolgate policy in the strategy document\'s format (§4.4); `kubectl mcp import` turns it into an McpSecurityPolicy.',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'policies'],
  properties: {
    version: { type: 'string', enum: [...supportedVersions], description: 'Format version.' },
    tenant: { type: 'object', description: 'Tenant variables, referenced as {name} in classifiers.', propertyNames: { pattern: patterns.tenantVariable.source }, additionalProperties: { type: 'string' } },
    profiles: {
      type: 'array', description: 'Community profiles: @openclaw/security-<name> (shipped McpProfile <name>) or an McpProfile name.',
      items: {
        oneOf: [
          str('A profile reference.'),
          { type: 'object', additionalProperties: false, required: ['name'], properties: { [profileRefKeys[0]]: str('A profile reference.'), [profileRefKeys[1]]: str('The governed server it applies to.', serverName) } },
        ],
      },
    },
    tool_overrides: perServerTool(tool(), 'The operator\'s classification per server and tool; outranks annotations and profiles.'),
    classifiers: perServerTool({ type: 'array', items: classifier }, 'Argument classifiers per server and tool.'),
    policies: {
      type: 'array', description: 'Rules, evaluated by ascending priority; the first match decides.',
      items: {
        type: 'object', additionalProperties: false, required: ['name', 'when', 'action', 'priority'],
        properties: {
          name: str('Unique name of the rule.', { minLength: 1, maxLength: 128 }),
          description: str('Why the rule exists.', { maxLength: 1024 }),
          when: {
            type: 'object', additionalProperties: false, description: 'Conditions on the classified call; {} matches every call.',
            properties: {
              ...hints, verb, verbs: set(verb, 'The call\'s verb is one of these.'), labels: set(label, 'Labels the call carries.'),
              servers: set({ type: 'string' }, 'Governed servers.'), tools: set({ type: 'string' }, 'Tool name globs.'), roles: set({ type: 'string' }, 'Caller roles.'),
            },
          },
          match: { type: 'string', enum: ['all', 'any'], description: 'all (default): every condition; any: at least one.' },
          action: { type: 'string', enum: ['allow', 'deny', 'require_approval'] },
          approvers: set({ type: 'string', maxLength: 253 }, 'Groups whose members may approve (require_approval only).'),
          quorum: { type: 'integer', minimum: 1, maximum: 10, description: 'Distinct approvals needed (require_approval only).' },
          timeout: str('How long a held call waits (require_approval only), for example 60m.', { pattern: patterns.duration.source }),
          priority: { type: 'integer', minimum: 0, maximum: 100000, description: 'Lowest first.' },
        },
      },
    },
    servers: { type: 'object', description: 'toolgate extension: where each governed server listens (or pass --server NAME=URL).', propertyNames: serverName, additionalProperties: str('Streamable HTTP URL.', { pattern: patterns.url.source }) },
    default_action: { type: 'string', enum: ['allow', 'deny', 'require_approval'], description: 'toolgate extension: decision when no rule matches (default deny).' },
    enforcement: { type: 'string', enum: ['enforce', 'dryrun'], description: 'toolgate extension: dryrun computes and audits but allows.' },
  },
};

export const packSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: `${base}/pack.schema.json`,
  title: 'community security pack',
  description: 'One MCP server\'s security profile in the strategy document\'s format (§4.5), named and versioned by its first line `# @openclaw/security-<name> vX.Y.Z`.',
  type: 'object',
  additionalProperties: false,
  required: ['service', 'tools'],
  properties: {
    service: str('The MCP server described.', serverName),
    description: str('What the pack covers.', { maxLength: 2048 }),
    version: str('Version, when there is no header comment.', { pattern: patterns.semver.source }),
    upstream: str('Where the server comes from (npm:<package>@<version>).', { maxLength: 512 }),
    tools: { type: 'object', description: 'Each tool the server exposes, by name.', additionalProperties: tool({ classify: { type: 'array', items: classifier, description: 'Argument classifiers.' } }) },
  },
};
