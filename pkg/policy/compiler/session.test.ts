import { describe, expect, it } from 'vitest';
import type { McpSecurityPolicy, SessionPolicy } from '../../../api/v1alpha1/index.ts';
import { compilePolicy } from './compile.ts';

const policy = (session: SessionPolicy): McpSecurityPolicy => ({
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'ns', name: 'p' },
  spec: { servers: [{ name: 'mail', url: 'http://mail/mcp' }], policies: [{ name: 'all', priority: 1, when: {}, action: 'allow' }], session },
});

describe('compileSession', () => {
  it('compiles limits and flows as rules with what the authorizer counts, and collects the source labels', () => {
    const { data, problems } = compilePolicy(policy({
      limits: [{ name: 'burst', when: { tools: ['get_*'], labels: ['b:x', 'a:y'] }, max: 20, window: '10s', action: 'deny' }],
      flows: [{ name: 'out', from: ['data:pii', 'data:confidential', 'data:pii'], to: { labels: ['scope:external'] }, action: 'require_approval', approvers: ['sec'] }],
    }), new Map());
    expect(problems).toEqual([]);
    const s = data!.toolgate.compiled.session!;
    expect(s.limits[0]).toMatchObject({ name: 'burst', kinds: ['tool'], match: 'all', when: { tools: { prefix: ['get_'] }, labelsAll: ['a:y', 'b:x'] }, per: 'session', perTool: false, max: 20, window: '10s', windowMs: 10_000, action: 'deny', approvers: [] });
    expect(s.flows[0]).toMatchObject({ name: 'out', from: ['data:confidential', 'data:pii'], approvers: ['sec'], quorum: 1, timeout: '60m' });
    expect(s.sources).toEqual(['data:confidential', 'data:pii']);
    expect(s.taintTtlMs).toBe(24 * 3_600_000);
  });

  it('leaves the document without a session when there are no limits or flows', () => {
    expect(compilePolicy(policy({ taintTTL: '1h' }), new Map()).data!.toolgate.compiled.session).toBeUndefined();
  });

  it('names each problem: a name used twice, a zero window, an approval without approvers, a bad glob', () => {
    const { problems, data } = compilePolicy(policy({
      limits: [
        { name: 'x', when: { tools: ['[a'] }, max: 1, window: '0s', action: 'deny' },
        { name: 'y', when: {}, max: 1, window: '1s', action: 'require_approval' },
      ],
      flows: [{ name: 'x', from: ['data:pii'], to: {}, action: 'deny' }],
    }), new Map());
    expect(data).toBeUndefined();
    const fields = problems.map((p) => p.field);
    expect(fields).toContain('spec.session.limits[0].window');
    expect(fields).toContain('spec.session.limits[0].when.tools[0]');
    expect(fields).toContain('spec.session.limits[1].approvers');
    expect(fields).toContain('spec.session.flows[0].name');
  });
});
