// Small builders for the compiler's unit tests.
import type { McpProfile, McpSecurityPolicy, McpSecurityPolicySpec } from '../../api/v1alpha1/index.ts';

export function policy(spec: Partial<McpSecurityPolicySpec> = {}): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpSecurityPolicy',
    metadata: { name: 'p', namespace: 'ns' },
    spec: {
      servers: [{ name: 'gmail', url: 'http://gmail:8080/mcp' }, { name: 'github', url: 'http://github:8080/mcp' }],
      policies: [{ name: 'allow-read', priority: 50, when: { readOnlyHint: true }, action: 'allow' }],
      ...spec,
    },
  };
}

export function profile(name: string, service: string, tools: McpProfile['spec']['tools']): McpProfile {
  return { apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name }, spec: { service, version: '1.0.0', tools } };
}

export const gmailProfile = profile('gmail', 'gmail', [
  {
    name: 'send_email', readOnlyHint: false, destructiveHint: false, openWorldHint: true, verb: 'create', labels: ['category:communication'],
    classify: [
      { field: 'to', contains: '@{company_domain}', setLabels: ['scope:internal'] },
      { field: 'to', notContains: '@{company_domain}', setLabels: ['scope:external'] },
    ],
  },
  { name: 'read_email', readOnlyHint: true, verb: 'get' },
  { name: 'delete_email', destructiveHint: true, verb: 'delete' },
]);

export const profiles = (...ps: McpProfile[]) => new Map(ps.map((p) => [p.metadata.name!, p]));
