import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { McpProfile, McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { PolicyEngine } from '../engine/engine.ts';
import { ensurePolicyWasm } from '../engine/policy-wasm.ts';
import { compilePolicy } from './compile.ts';

const profile: McpProfile = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name: 'crm' },
  spec: { service: 'crm', version: '1.0.0', tools: [{ name: 'lookup_customer', readOnlyHint: true, labels: ['data:pii'] }, { name: 'list_products', readOnlyHint: true }] },
};

const policy = (audit?: McpSecurityPolicy['spec']['audit']): McpSecurityPolicy => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'ns', name: 'p' },
  spec: {
    servers: [{ name: 'crm', url: 'http://crm/mcp' }],
    profiles: [{ name: 'crm' }],
    policies: [{ name: 'reads', priority: 1, when: { readOnlyHint: true }, action: 'allow' }],
    ...(audit ? { audit } : {}),
  },
});

describe('spec.audit.requirePurposeFor', () => {
  it('compiles the labels, sorted and unique, to data.toolgate.compiled.audit; absent without them', () => {
    const { data, problems } = compilePolicy(policy({ requirePurposeFor: { labels: ['data:pii', 'data:health', 'data:pii'] } }), new Map([['crm', profile]]));
    expect(problems).toEqual([]);
    expect(data!.toolgate.compiled.audit).toEqual({ requirePurposeFor: { labels: ['data:health', 'data:pii'] } });
    expect(compilePolicy(policy({ onFailure: 'Refuse' }), new Map([['crm', profile]])).data!.toolgate.compiled.audit).toBeUndefined();
    expect(compilePolicy(policy({ requirePurposeFor: { labels: [] } }), new Map([['crm', profile]])).data!.toolgate.compiled.audit).toBeUndefined();
  });

  it('on the real policy wasm, denies a personal-data tool called without a purpose and leaves the others alone', async () => {
    const { data } = compilePolicy(policy({ requirePurposeFor: { labels: ['data:pii'] } }), new Map([['crm', profile]]));
    const engine = new PolicyEngine();
    await engine.load(readFileSync(ensurePolicyWasm()), data!, 'rev');
    const call = (tool: string, extra: object = {}) => engine.evaluate({ server: 'crm', tool, arguments: {}, caller: { roles: [], scopes: [] }, ...extra });
    const refused = call('lookup_customer');
    expect(refused).toMatchObject({ action: 'deny', rule: 'toolgate:purpose-required', labels: ['data:pii'] });
    expect(refused.reasons[0]).toContain('params._meta["toolgate.io/purpose"]');
    expect(call('lookup_customer', { purposeStated: true })).toMatchObject({ action: 'allow', rule: 'reads' });
    expect(call('list_products')).toMatchObject({ action: 'allow', rule: 'reads' });
  });
});
