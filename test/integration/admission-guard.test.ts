// The authorizer refuses to run unguarded: with approvals on, it checks that the ApprovalRequest
// admission policy and its binding exist (here the shipped ones, installed under this test's
// names), as its own service account with the shipped RBAC. Without the binding it is not ready,
// /readyz names what is missing, a log line and a metric say so, and calls are refused; once both
// exist it serves; when the binding is deleted it stops again.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import type { RunningAuthorizer } from '../../authorizer/src/authorizer.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { admissionNames, applyAll, deleteAll, refOf, shippedAdmission, type Manifest } from '../harness/install.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { waitFor } from '../harness/kube.ts';
import { toolsCall } from '../support/extauthz.ts';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { createInstall, everythingProfile, fieldManager, policyRef, profileRef, readyz, startInstalledAuthorizer, startInstalledOperator, type TestInstall } from './install-support.ts';
import { audience, connectClient, rawPost, startEverything, type EverythingServer } from './proxy-support.ts';

let install: TestInstall;
let operator: RunningOperator;
let authorizer: RunningAuthorizer;
let issuer: TestIssuer;
let everything: EverythingServer;
let policy: Manifest;
let binding: Manifest;
const lines: Array<{ msg?: string; reason?: string }> = [];
const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as { msg?: string }); cb(); } }));

const guardedMetric = async () => /toolgate_authorizer_admission_guarded (\d)/.exec(await (await fetch(`http://127.0.0.1:${authorizer.probe.port}/metrics`)).text())?.[1];
const call = async () => rawPost(authorizer.proxy!.url, toolsCall('echo', { message: 'hi' }), { authorization: `Bearer ${await issuer.mint({ sub: 'alice', azp: 'agent-1' })}` });

beforeAll(async () => {
  install = await createInstall('guard');
  const gov = install.governed[0]!;
  [policy, binding] = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].map((k) => shippedAdmission(install).find((d) => d.kind === k)!) as [Manifest, Manifest];
  await applyAll(install.admin, [policy], fieldManager);
  issuer = await startJwtIssuer({ audience });
  everything = await startEverything();
  await install.admin.apply(profileRef(everythingProfile(install).metadata!.name!), everythingProfile(install), fieldManager);
  const p: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { name: 'agents', namespace: gov },
    spec: {
      servers: [{ name: 'everything', url: everything.url }],
      profiles: [{ name: everythingProfile(install).metadata!.name!, server: 'everything' }],
      policies: [{ name: 'read-only', priority: 50, when: { readOnlyHint: true }, action: 'allow' }],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
  await install.admin.apply(policyRef(gov), p, fieldManager);
  operator = await startInstalledOperator(install);
  authorizer = await startInstalledAuthorizer(install, operator, [`${gov}/agents`], {
    approvals: { enabled: true, admission: { ...admissionNames(install), intervalMs: 300 } }, log,
  });
}, 180_000);

afterAll(async () => {
  await authorizer?.stop();
  await operator?.stop();
  await Promise.all([everything?.close(), issuer?.close()]);
  await deleteAll(install.admin, [policy, binding].filter(Boolean));
  await install.admin.delete(profileRef(everythingProfile(install).metadata!.name!)).catch(() => undefined);
  await install?.remove();
});

describe('the authorizer and the ApprovalRequest admission policy', () => {
  it('without the binding: bundles loaded, yet not ready, the binding named on /readyz, in the log and the metric, calls refused', async () => {
    await waitFor(() => authorizer.bundles.ready, { description: 'the bundle to load', timeoutMs: 60_000 });
    const probe = await readyz(authorizer);
    expect(probe.status).toBe(503);
    expect(probe.text).toContain(`[-]admission ApprovalRequests are not guarded: ValidatingAdmissionPolicyBinding ${binding.metadata.name} does not exist`);
    expect(probe.text).toContain('[+]bundles');
    expect(authorizer.ready()).toBe(false);
    expect(await guardedMetric()).toBe('0');
    expect(lines).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/admission policy not in place/), reason: expect.stringContaining(binding.metadata.name) }));
    const refused = await call();
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: ErrorCodes.policyUnavailable, message: expect.stringContaining('the authorizer is not ready') } });
  });

  it('with the policy and its binding: ready and serving', async () => {
    await applyAll(install.admin, [binding], fieldManager);
    await waitFor(async () => (await readyz(authorizer)).status === 200, { description: 'the authorizer to become ready', timeoutMs: 30_000 });
    expect((await readyz(authorizer)).text).toContain(`[+]admission ApprovalRequests guarded by ValidatingAdmissionPolicy ${policy.metadata.name} (binding ${binding.metadata.name})`);
    expect(await guardedMetric()).toBe('1');
    const { client } = await connectClient(authorizer.proxy!.url, await issuer.mint({ sub: 'alice', azp: 'agent-1' }));
    try {
      expect((await client.callTool({ name: 'echo', arguments: { message: 'hi' } })).content).toEqual([{ type: 'text', text: 'Echo: hi' }]);
    } finally {
      await client.close();
    }
  });

  it('when the binding is deleted: not ready again', async () => {
    await install.admin.delete(refOf(binding));
    await waitFor(async () => (await readyz(authorizer)).status === 503, { description: 'the authorizer to become not ready', timeoutMs: 30_000 });
    expect((await readyz(authorizer)).text).toContain(`ValidatingAdmissionPolicyBinding ${binding.metadata.name} does not exist`);
    expect((await call()).status).toBe(503);
  });
});
