import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { KubeError, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { AdmissionGuard, assessAdmission, type AdmissionPolicy, type AdmissionPolicyBinding } from './admission-guard.ts';

const names = { policy: 'toolgate-approvalrequests', binding: 'toolgate-approvalrequests' };
const policy: AdmissionPolicy = { metadata: { name: names.policy }, spec: { failurePolicy: 'Fail' } };
const binding: AdmissionPolicyBinding = { metadata: { name: names.binding }, spec: { policyName: names.policy, validationActions: ['Deny'] } };

describe('assessAdmission', () => {
  it('is guarded when the policy exists and a binding to it denies', () => {
    expect(assessAdmission(names, policy, binding)).toEqual({ guarded: true, reason: expect.stringContaining('guarded by ValidatingAdmissionPolicy toolgate-approvalrequests') });
    // failurePolicy defaults to Fail when unset.
    expect(assessAdmission(names, { spec: {} }, binding).guarded).toBe(true);
  });

  it.each([
    ['no policy', undefined, binding, /ValidatingAdmissionPolicy toolgate-approvalrequests does not exist/],
    ['no binding', policy, undefined, /ValidatingAdmissionPolicyBinding toolgate-approvalrequests does not exist/],
    ['neither', undefined, undefined, /Policy toolgate-approvalrequests does not exist; ValidatingAdmissionPolicyBinding toolgate-approvalrequests does not exist/],
    ['a binding to another policy', policy, { spec: { policyName: 'something-else', validationActions: ['Deny'] } }, /binds policy "something-else", not toolgate-approvalrequests/],
    ['a binding that only warns', policy, { spec: { policyName: names.policy, validationActions: ['Warn', 'Audit'] } }, /does not deny \(validationActions: \[Warn, Audit\]\)/],
    ['a policy that fails open', { spec: { failurePolicy: 'Ignore' } }, binding, /failurePolicy Ignore/],
    ['a binding being deleted', policy, { ...binding, metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }, /Binding toolgate-approvalrequests is being deleted/],
  ] as Array<[string, AdmissionPolicy | undefined, AdmissionPolicyBinding | undefined, RegExp]>)('is not guarded with %s, and says why and what to do', (_what, p, b, reason) => {
    const state = assessAdmission(names, p, b);
    expect(state.guarded).toBe(false);
    expect(state.reason).toMatch(reason);
    expect(state.reason).toMatch(/install config\/admission/);
  });
});

/** A client whose answers per object name the test sets; anything else is "not found". */
function scriptedClient(answers: Map<string, () => unknown>): KubeClient {
  return {
    get: (ref: ResourceRef) => {
      const answer = answers.get(`${ref.plural}/${ref.name}`);
      if (!answer) return Promise.reject(new KubeError(404, 'NotFound', `${ref.plural} "${ref.name}" not found`));
      try {
        return Promise.resolve(answer());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  } as unknown as KubeClient;
}

async function gauge(registry: Registry): Promise<number | undefined> {
  return (await registry.getSingleMetric('toolgate_authorizer_admission_guarded')!.get()).values[0]?.value;
}

describe('AdmissionGuard', () => {
  const log = pino({ level: 'silent' });

  it('follows the objects: not ready until both exist, not ready again once the binding goes', async () => {
    const answers = new Map<string, () => unknown>([['validatingadmissionpolicies/toolgate-approvalrequests', () => policy]]);
    const registry = new Registry();
    const guard = new AdmissionGuard({ client: scriptedClient(answers), log, registry });
    expect(guard.readiness()).toEqual({ ok: false, detail: expect.stringMatching(/not been checked yet/) });

    await guard.check();
    expect(guard.guarded).toBe(false);
    expect(guard.readiness().detail).toMatch(/ValidatingAdmissionPolicyBinding toolgate-approvalrequests does not exist/);
    expect(await gauge(registry)).toBe(0);

    answers.set('validatingadmissionpolicybindings/toolgate-approvalrequests', () => binding);
    await guard.check();
    expect(guard.readiness()).toEqual({ ok: true, detail: expect.stringMatching(/guarded/) });
    expect(await gauge(registry)).toBe(1);

    answers.delete('validatingadmissionpolicybindings/toolgate-approvalrequests');
    await guard.check();
    expect(guard.guarded).toBe(false);
    expect(await gauge(registry)).toBe(0);
    const checks = (await registry.getSingleMetric('toolgate_authorizer_admission_checks_total')!.get()).values;
    expect(Object.fromEntries(checks.map((v) => [v.labels.result, v.value]))).toEqual({ unguarded: 2, guarded: 1 });
  });

  it('checks the names it is given', async () => {
    const answers = new Map<string, () => unknown>([
      ['validatingadmissionpolicies/custom-policy', () => policy],
      ['validatingadmissionpolicybindings/custom-binding', () => ({ spec: { policyName: 'custom-policy', validationActions: ['Deny'] } })],
    ]);
    const guard = new AdmissionGuard({ client: scriptedClient(answers), log, policy: 'custom-policy', binding: 'custom-binding' });
    expect((await guard.check()).guarded).toBe(true);
  });

  it('is not ready while the first check cannot reach the API server, and keeps a confirmed guard through a later outage', async () => {
    let down = true;
    const outage = () => { if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:6443'); };
    const answers = new Map<string, () => unknown>([
      ['validatingadmissionpolicies/toolgate-approvalrequests', () => { outage(); return policy; }],
      ['validatingadmissionpolicybindings/toolgate-approvalrequests', () => { outage(); return binding; }],
    ]);
    const guard = new AdmissionGuard({ client: scriptedClient(answers), log });
    await guard.check();
    expect(guard.readiness()).toEqual({ ok: false, detail: expect.stringMatching(/could not check .*ECONNREFUSED/) });
    down = false;
    await guard.check();
    expect(guard.guarded).toBe(true);
    down = true;
    await guard.check();
    expect(guard.guarded).toBe(true);
  });

  it('is not ready when it may not read the objects, naming the RBAC it needs', async () => {
    const forbidden = () => { throw new KubeError(403, 'Forbidden', 'validatingadmissionpolicies is forbidden'); };
    const answers = new Map<string, () => unknown>([
      ['validatingadmissionpolicies/toolgate-approvalrequests', forbidden],
      ['validatingadmissionpolicybindings/toolgate-approvalrequests', () => binding],
    ]);
    const guard = new AdmissionGuard({ client: scriptedClient(answers), log });
    await guard.check();
    expect(guard.guarded).toBe(false);
    expect(guard.readiness().detail).toMatch(/grant get on validatingadmissionpolicies\/toolgate-approvalrequests and validatingadmissionpolicybindings\/toolgate-approvalrequests/);
  });

  it('start() resolves after the first check and re-checks on its own', async () => {
    const answers = new Map<string, () => unknown>([['validatingadmissionpolicies/toolgate-approvalrequests', () => policy]]);
    const guard = new AdmissionGuard({ client: scriptedClient(answers), log, intervalMs: 20 });
    await guard.start();
    expect(guard.guarded).toBe(false);
    answers.set('validatingadmissionpolicybindings/toolgate-approvalrequests', () => binding);
    await expect.poll(() => guard.guarded, { timeout: 5_000 }).toBe(true);
    guard.stop();
  });
});
