import { describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { compilePolicy } from './compile.ts';

const policy = (toolPinning?: McpSecurityPolicy['spec']['toolPinning']): McpSecurityPolicy => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'ns', name: 'p' },
  spec: {
    servers: [{ name: 'calc', url: 'http://calc/mcp' }],
    policies: [{ name: 'no-poisoned', priority: 1, when: { labels: ['risk:poisoning'] }, action: 'deny' }, { name: 'all', priority: 9, when: {}, action: 'allow' }],
    ...(toolPinning ? { toolPinning } : {}),
  },
});

describe('spec.toolPinning', () => {
  it('compiles to data.toolgate.compiled.toolPinning and tells the authorizer through the gateway', () => {
    const { data } = compilePolicy(policy({ onChange: 'RequireApproval', approvers: ['sec', 'ops', 'sec'], quorum: 2 }), new Map());
    expect(data!.toolgate.compiled.toolPinning).toEqual({ onChange: 'require_approval', approvers: ['ops', 'sec'], quorum: 2, timeout: '60m' });
    expect(data!.toolgate.gateway.toolPinning).toEqual({ onChange: 'RequireApproval', approvers: ['sec', 'ops', 'sec'], quorum: 2 });
    expect(compilePolicy(policy({}), new Map()).data!.toolgate.compiled.toolPinning).toEqual({ onChange: 'deny', approvers: [], quorum: 0, timeout: '' });
    expect(compilePolicy(policy(), new Map()).data!.toolgate.compiled.toolPinning).toBeUndefined();
  });

  it('refuses RequireApproval without approvers, naming the field', () => {
    expect(compilePolicy(policy({ onChange: 'RequireApproval' }), new Map()).problems).toEqual([expect.objectContaining({ field: 'spec.toolPinning.approvers' })]);
  });

  it('keeps rules on risk:poisoning among every tool\'s candidates (the label comes from the definition, at run time)', () => {
    const { data } = compilePolicy(policy(), new Map());
    const c = data!.toolgate.compiled;
    expect(c.candidateLists[c.servers.calc!.wildcard]).toContain(0);
  });
});
