// Every problem checkReferences/compilePolicy can report, each with the field it names.
import { describe, expect, it } from 'vitest';
import type { McpProfile, McpSecurityPolicySpec } from '../../../api/v1alpha1/index.ts';
import { validatePolicy } from './index.ts';
import { gmailProfile, policy, profile, profiles } from '../../../test/support/compiler.ts';

const tenant = { company_domain: 'acme.com' };
const check = (spec: Partial<McpSecurityPolicySpec>, ps: Map<string, McpProfile> = profiles(gmailProfile)) => validatePolicy(policy({ tenant, ...spec }), ps).problems;

describe('validatePolicy', () => {
  it('accepts a consistent policy', () => {
    expect(check({ profiles: [{ name: 'gmail' }] })).toEqual([]);
  });

  it.each<[string, Partial<McpSecurityPolicySpec>, { field: string; message: RegExp }]>([
    ['a missing profile', { profiles: [{ name: 'slack' }] }, { field: 'spec.profiles[0].name', message: /^McpProfile "slack" not found$/ }],
    ['a profile for a server not governed', { profiles: [{ name: 'gmail', server: 'outlook' }] }, { field: 'spec.profiles[0].server', message: /server "outlook" is not in spec\.servers/ }],
    ['a duplicate profile reference', { profiles: [{ name: 'gmail' }, { name: 'gmail', server: 'gmail' }] }, { field: 'spec.profiles[1]', message: /duplicate reference to McpProfile "gmail"/ }],
    ['a duplicate server', { servers: [{ name: 'gmail', url: 'http://a' }, { name: 'gmail', url: 'http://b' }] }, { field: 'spec.servers[1].name', message: /duplicate server name "gmail"/ }],
    ['no servers', { servers: [] }, { field: 'spec.servers', message: /at least one server/ }],
    ['an override for an unknown server', { toolOverrides: [{ server: 'slack', tool: 'post', verb: 'create' }] }, { field: 'spec.toolOverrides[0].server', message: /server "slack" is not in spec\.servers/ }],
    ['a duplicate override', { toolOverrides: [{ server: 'gmail', tool: 'x' }, { server: 'gmail', tool: 'x' }] }, { field: 'spec.toolOverrides[1]', message: /duplicate override for tool "x"/ }],
    ['a classifier for an unknown server', { classifiers: [{ server: 'slack', tool: 'post', field: 'text', present: true, setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0].server', message: /not in spec\.servers/ }],
    ['a duplicate rule name', { policies: [{ name: 'r', priority: 1, when: {}, action: 'deny' }, { name: 'r', priority: 2, when: {}, action: 'deny' }] }, { field: 'spec.policies[1].name', message: /duplicate rule name "r" \(also spec\.policies\[0\]\)/ }],
    ['a reserved rule name', { policies: [{ name: 'toolgate:default', priority: 1, when: {}, action: 'deny' }] }, { field: 'spec.policies[0].name', message: /reserved/ }],
    ['equal priorities with different actions', { policies: [{ name: 'a', priority: 5, when: {}, action: 'deny' }, { name: 'b', priority: 5, when: {}, action: 'allow' }] }, { field: 'spec.policies[1].priority', message: /same priority 5 as spec\.policies\[0\] \("a"\)/ }],
    ['require_approval without approvers', { policies: [{ name: 'a', priority: 5, when: {}, action: 'require_approval' }] }, { field: 'spec.policies[0].approvers', message: /at least one approver/ }],
    ['approval fields on an allow', { policies: [{ name: 'a', priority: 5, when: {}, action: 'allow', timeout: '5m' }] }, { field: 'spec.policies[0].timeout', message: /only to require_approval/ }],
    ['a rule on an unknown server', { policies: [{ name: 'a', priority: 5, when: { servers: ['gmail', 'slack'] }, action: 'deny' }] }, { field: 'spec.policies[0].when.servers[1]', message: /server "slack" is not in spec\.servers/ }],
    ['a malformed tool glob', { policies: [{ name: 'a', priority: 5, when: { tools: ['ok_*', 'send_[email'] }, action: 'deny' }] }, { field: 'spec.policies[0].when.tools[1]', message: /unclosed character class/ }],
    ['an undefined role', { identity: { issuer: 'i', audience: 'a', roles: [{ name: 'sre' }] }, policies: [{ name: 'a', priority: 5, when: { roles: ['sre', 'dba'] }, action: 'allow' }] }, { field: 'spec.policies[0].when.roles[1]', message: /role "dba" is not defined/ }],
    ['a duplicate role', { identity: { issuer: 'i', audience: 'a', roles: [{ name: 'sre' }, { name: 'sre' }] } }, { field: 'spec.identity.roles[1].name', message: /duplicate role name/ }],
    ['a role grant without a server', { identity: { issuer: 'i', audience: 'a', roles: [{ name: 'sre', tools: ['kubectl_*'] }] } }, { field: 'spec.identity.roles[0].tools[0]', message: /server\/tool/ }],
    ['a resource grant without a literal server', { identity: { issuer: 'i', audience: 'a', roles: [{ name: 'sre', resources: ['*/file:///x'] }] } }, { field: 'spec.identity.roles[0].resources[0]', message: /server\/uri, the server named literally/ }],
    ['a prompt grant without a server', { identity: { issuer: 'i', audience: 'a', roles: [{ name: 'sre', prompts: ['review_*'] }] } }, { field: 'spec.identity.roles[0].prompts[0]', message: /server\/prompt/ }],
    ['a malformed role grant glob', { identity: { issuer: 'i', audience: 'a', roles: [{ name: 'sre', tools: ['k8s/{a,b'] }] } }, { field: 'spec.identity.roles[0].tools[0]', message: /unclosed \{/ }],
    ['require_approval as the default', { defaultAction: 'require_approval' }, { field: 'spec.defaultAction', message: /no approver groups/ }],
    ['a lookahead in a classifier', { classifiers: [{ server: 'gmail', tool: 'send_email', field: 'to', matches: '@(?!acme)', setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0].matches', message: /RE2.*lookaround/ }],
    ['a backreference in a classifier', { classifiers: [{ server: 'gmail', tool: 'send_email', field: 'to', notMatches: '(a)\\1', setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0].notMatches', message: /backreferences/ }],
    ['an invalid regex', { classifiers: [{ server: 'gmail', tool: 'send_email', field: 'to', matches: '(', setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0].matches', message: /not a valid regular expression/ }],
    ['an unresolved variable in a policy classifier', { classifiers: [{ server: 'gmail', tool: 'x', field: 'to', present: true, setLabels: ['a:b'] }, { server: 'gmail', tool: 'x', field: 'to', contains: '@{domain}', setLabels: ['a:b'] }] }, { field: 'spec.classifiers[1].contains', message: /tenant variable \{domain\} is not defined in spec\.tenant/ }],
    ['two conditions in one classifier', { classifiers: [{ server: 'gmail', tool: 'x', field: 'to', present: true, contains: 'a', setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0]', message: /exactly one condition.*found contains, present/ }],
    ['no condition in a classifier', { classifiers: [{ server: 'gmail', tool: 'x', field: 'to', setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0]', message: /exactly one condition.*found none/ }],
    ['a malformed resource glob', { policies: [{ name: 'a', priority: 5, when: { resources: ['file:///{a'] }, action: 'deny' }] }, { field: 'spec.policies[0].when.resources[0]', message: /unclosed \{/ }],
    ['a malformed prompt glob', { policies: [{ name: 'a', priority: 5, when: { prompts: ['[x'] }, action: 'deny' }] }, { field: 'spec.policies[0].when.prompts[0]', message: /unclosed character class/ }],
    ['resources without the resource kind', { policies: [{ name: 'a', priority: 5, when: { kinds: ['prompt'], resources: ['file:///*'] }, action: 'deny' }] }, { field: 'spec.policies[0].when.resources', message: /matches only resource operations, and when\.kinds does not include resource/ }],
    ['tools without the tool kind', { policies: [{ name: 'a', priority: 5, when: { kinds: ['resource'], tools: ['x'] }, action: 'deny' }] }, { field: 'spec.policies[0].when.tools', message: /matches only tool operations/ }],
    ['two targets under match all', { policies: [{ name: 'a', priority: 5, when: { tools: ['x'], prompts: ['p'] }, action: 'deny' }] }, { field: 'spec.policies[0].when', message: /tools and prompts can never hold together/ }],
    ['hints on a resource rule', { policies: [{ name: 'a', priority: 5, when: { kinds: ['resource'], readOnlyHint: true }, action: 'allow' }] }, { field: 'spec.policies[0].when', message: /readOnlyHint describe tools only/ }],
    ['hints on a prompt rule', { policies: [{ name: 'a', priority: 5, when: { prompts: ['p'], secretHint: true }, action: 'allow' }] }, { field: 'spec.policies[0].when', message: /secretHint describe tools only/ }],
    ['a resource override for an unknown server', { resourceOverrides: [{ server: 'slack', uri: 'file:///*', labels: ['a:b'] }] }, { field: 'spec.resourceOverrides[0].server', message: /server "slack" is not in spec\.servers/ }],
    ['a malformed prompt override glob', { promptOverrides: [{ server: 'gmail', prompt: 'x{', labels: ['a:b'] }] }, { field: 'spec.promptOverrides[0].prompt', message: /unclosed \{/ }],
    ['require_approval of a resource read', { policies: [{ name: 'a', priority: 5, when: { resources: ['file:///*'] }, action: 'require_approval', approvers: ['x'] }] }, { field: 'spec.policies[0].action', message: /require_approval applies to tool calls only; operations of kind resource/ }],
    ['a malformed field path', { classifiers: [{ server: 'gmail', tool: 'x', field: 'to..cc', present: true, setLabels: ['a:b'] }] }, { field: 'spec.classifiers[0].field', message: /"to\.\.cc" must be keys joined by dots/ }],
  ])('reports %s', (_name, spec, want) => {
    const problems = check(spec);
    expect(problems).toContainEqual({ field: want.field, message: expect.stringMatching(want.message) });
  });

  it('reports a profile whose service is not governed on the reference itself', () => {
    const slack = profile('slack', 'slack', [{ name: 'post', verb: 'create' }]);
    expect(check({ profiles: [{ name: 'slack' }] }, profiles(slack))).toEqual([
      { field: 'spec.profiles[0].name', message: expect.stringMatching(/describes service "slack", which is not in spec\.servers; set spec\.profiles\[0\]\.server/) },
    ]);
  });

  it('reports a profile classifier problem on the reference, naming the place inside the profile', () => {
    const problems = check({ tenant: {}, profiles: [{ name: 'gmail' }] });
    expect(problems).toEqual([
      { field: 'spec.profiles[0]', message: 'McpProfile "gmail" spec.tools[0].classify[0].contains: tenant variable {company_domain} is not defined in spec.tenant' },
      { field: 'spec.profiles[0]', message: 'McpProfile "gmail" spec.tools[0].classify[1].notContains: tenant variable {company_domain} is not defined in spec.tenant' },
    ]);
  });

  it('reports a bad regex inside a profile', () => {
    const bad = profile('bad', 'gmail', [{ name: 't', classify: [{ field: 'x', matches: '(?<=a)b', setLabels: ['a:b'] }] }]);
    expect(check({ profiles: [{ name: 'bad' }] }, profiles(bad))).toEqual([
      { field: 'spec.profiles[0]', message: expect.stringMatching(/^McpProfile "bad" spec\.tools\[0\]\.classify\[0\]\.matches: .*lookaround/) },
    ]);
  });

  it('allows equal priorities with the same action', () => {
    expect(check({ policies: [{ name: 'a', priority: 5, when: {}, action: 'deny' }, { name: 'b', priority: 5, when: {}, action: 'deny' }] })).toEqual([]);
  });

  it('accepts rules on every kind, and targets of several kinds under match any', () => {
    expect(check({ policies: [
      { name: 'r', priority: 1, when: { resources: ['file:///public/*'], servers: ['gmail'] }, action: 'allow' },
      { name: 'p', priority: 2, when: { kinds: ['prompt', 'tool'], prompts: ['greet'], tools: ['send_*'] }, match: 'any', action: 'deny' },
      { name: 'l', priority: 3, when: { kinds: ['logging'] }, action: 'allow' },
    ] })).toEqual([]);
  });

  it('does not check roles when the policy defines none', () => {
    expect(check({ policies: [{ name: 'a', priority: 5, when: { roles: ['anyone'] }, action: 'allow' }] })).toEqual([]);
  });

  it('returns counts even when there are problems', () => {
    const result = validatePolicy(policy({ tenant, profiles: [{ name: 'gmail' }, { name: 'missing' }] }), profiles(gmailProfile));
    expect(result.problems).toHaveLength(1);
    expect(result.counts).toEqual({ servers: 2, tools: 3, policies: 1, classifiers: 2 });
  });
});
