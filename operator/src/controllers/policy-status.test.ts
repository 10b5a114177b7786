// The AuditFailures condition says whether the policy tolerates calls its authorizers cannot
// audit (spec.audit.onFailure), so whoever reads the status sees who accepted that risk.
import { describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { desiredPolicyStatus } from './policy-status.ts';
import type { BundleOutcome } from './policy-bundler.ts';

const outcome: BundleOutcome = { problems: [], counts: { servers: 1, tools: 1, policies: 1, classifiers: 0 }, servedRevision: 'rev-1', current: true };
const policy = (audit?: McpSecurityPolicy['spec']['audit']): McpSecurityPolicy => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'p', namespace: 'ns', generation: 3 },
  spec: { servers: [{ name: 's', url: 'http://s.test/mcp' }], policies: [], ...(audit ? { audit } : {}) },
} as McpSecurityPolicy);

describe('the AuditFailures condition', () => {
  it('says audit failures refuse calls by default and when the policy says Refuse', () => {
    for (const p of [policy(), policy({ onFailure: 'Refuse' })]) {
      expect(desiredPolicyStatus(p, outcome).conditions?.find((c) => c.type === 'AuditFailures')).toMatchObject({ status: 'False', reason: 'Refused', observedGeneration: 3 });
    }
  });

  it('says audit failures are tolerated when the policy says Allow', () => {
    const c = desiredPolicyStatus(policy({ onFailure: 'Allow' }), outcome).conditions?.find((x) => x.type === 'AuditFailures');
    expect(c).toMatchObject({ status: 'True', reason: 'Tolerated', observedGeneration: 3 });
    expect(c?.message).toContain('let through');
  });
});

describe('spec.audit in the bundle', () => {
  it('ships spec.audit to the authorizers in GatewayConfig, and nothing when unset (revisions unchanged)', async () => {
    const { gatewayConfig } = await import('../../../pkg/policy/compiler/compile.ts');
    expect(gatewayConfig({ namespace: 'ns', name: 'p' }, policy({ onFailure: 'Allow' }).spec).audit).toEqual({ onFailure: 'Allow' });
    expect('audit' in gatewayConfig({ namespace: 'ns', name: 'p' }, policy().spec)).toBe(false);
  });
});
