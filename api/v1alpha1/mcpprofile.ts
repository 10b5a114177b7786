// McpProfile: community security knowledge about one MCP server (cluster-scoped, like a ClusterRole).
import { ClassifierRule } from './classifier.ts';
import { Enum, Labels, List, Obj, PersonalFields, Str, StringSet, Type, hintProperties, verbs, type Static } from './schema.ts';

export const ProfileTool = Obj(
  {
    name: Str('Tool name exactly as the MCP server reports it in tools/list.', { minLength: 1, maxLength: 256 }),
    ...hintProperties('The tool'),
    verb: Type.Optional(Enum(verbs, { description: 'Kubernetes-style verb of the operation: get, list, create, update or delete.' })),
    labels: Type.Optional(Labels('Namespaced labels that always apply to this tool (for example `category:communication`).')),
    scopes: Type.Optional(StringSet('OAuth scopes a caller\'s token must carry to call this tool.', { maxLength: 256 }, { maxItems: 16 })),
    classify: Type.Optional(List(ClassifierRule, 'Argument classifiers for this tool; `{variable}` refers to the policy\'s tenant variables.', { maxItems: 64 })),
    personalFields: Type.Optional(PersonalFields('this tool')),
  },
  { description: 'The security classification of one tool.' },
);
export type ProfileTool = Static<typeof ProfileTool>;

export const McpProfileSpec = Obj(
  {
    service: Str('The MCP server this profile describes (for example `gmail`). A policy applies it to the server of the same name unless it says otherwise.', { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }),
    version: Str('Version of this profile (semantic versioning).', { pattern: '^v?[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?$', maxLength: 64 }),
    description: Type.Optional(Str('What the profile covers, for humans.', { maxLength: 2048 })),
    upstream: Type.Optional(Str('Where the described MCP server comes from (for example the npm package name).', { maxLength: 512 })),
    tools: List(ProfileTool, 'Classification of each tool the server exposes.', {
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      maxItems: 2000,
    }),
  },
  { description: 'The security profile of one MCP server.' },
);
export type McpProfileSpec = Static<typeof McpProfileSpec>;

export interface McpProfile {
  apiVersion: 'toolgate.io/v1alpha1';
  kind: 'McpProfile';
  metadata: import('./meta.ts').ObjectMeta;
  spec: McpProfileSpec;
}
