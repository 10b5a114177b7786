// The shipped ValidatingAdmissionPolicy against the real API server, with several people holding
// their own credentials and the operator and authorizer as real service accounts (TokenRequest):
// who may create, decide, derive the phase and consume — and what each refusal says.
import { describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../api/v1alpha1/index.ts';
import { anApprovalRequest, uniqueName } from '../harness/kube.ts';
import { KubeClient, isConflict } from '../../pkg/kube/client.ts';
import { admin, approvalRef, decide, refusal, withApprovalNamespace } from './approval-admission-support.ts';

const env = withApprovalNamespace('vap');
const { ns } = env;

async function held(opts: { quorum?: number; operator?: string; kubernetesUsernames?: string[] } = {}): Promise<string> {
  const ar = anApprovalRequest(uniqueName('ar')).inNamespace(ns).requestedBy('mail-assistant', opts.operator ?? 'alice')
    .withApprovers(['mail-approvers', 'sre'], opts.quorum ?? 1).build();
  if (opts.kubernetesUsernames) ar.spec.requester.kubernetesUsernames = opts.kubernetesUsernames;
  await env.authorizer().create(approvalRef(ns), ar, 'toolgate-authorizer');
  return ar.metadata.name ?? '';
}

/** Writes status fields as `client` would with an UPDATE on /status. */
async function writeStatus(client: KubeClient, name: string, change: (s: NonNullable<ApprovalRequest['status']>) => void): Promise<ApprovalRequest> {
  const ar = await admin().get<ApprovalRequest>(approvalRef(ns, name));
  const status = structuredClone(ar.status ?? {});
  change(status);
  return client.replace<ApprovalRequest>(approvalRef(ns, name, 'status'), { ...ar, status });
}

describe('creating ApprovalRequests', () => {
  it('only the authorizer service account may create them', async () => {
    const bob = await env.person('bob', ['mail-approvers']);
    const ar = anApprovalRequest(uniqueName('forged')).inNamespace(ns).build();
    // bob lacks RBAC create; cluster admins have it, and are refused all the same.
    expect(await refusal(admin().create(approvalRef(ns), ar))).toContain(
      `only the toolgate authorizer (${env.authorizerUser}) may create ApprovalRequests; toolgate-admin may not`);
    expect(await refusal(bob.create(approvalRef(ns), ar))).toMatch(/forbidden/i);
    expect(await refusal(env.authorizer().create(approvalRef(ns), ar))).toBeUndefined();
  });

  it('the spec stays immutable, even for the authorizer', async () => {
    const name = await held();
    const msg = await refusal(env.authorizer().mergePatch(approvalRef(ns, name), { spec: { quorum: 2, tool: 'delete_email' } }));
    expect(msg).toContain('spec is immutable');
  });
});

describe('people deciding', () => {
  it('a member appends their own decision', async () => {
    const name = await held();
    const bob = await env.person('bob', ['mail-approvers']);
    const ar = await decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve', reason: 'looks right' });
    expect(ar.status?.decisions).toMatchObject([{ user: 'bob', groups: ['mail-approvers'], decision: 'approve' }]);
  });

  it('refuses self-approval by the human operator who asked', async () => {
    const name = await held({ operator: 'alice' });
    const alice = await env.person('alice', ['mail-approvers']);
    expect(await refusal(decide(alice, ns, name, { user: 'alice', groups: ['mail-approvers'], decision: 'approve' })))
      .toContain('alice asked for this call (spec.requester) and may not decide on it; another member of mail-approvers, sre must');
  });

  it('refuses the requester under the Kubernetes username the API server knows them by', async () => {
    // The API server maps the OIDC subject alice to oidc:alice (claimMappings.username.prefix); the
    // policy says so (identity.kubernetesUsernames) and the authorizer records it on the request.
    const name = await held({ operator: 'alice', kubernetesUsernames: ['oidc:alice', 'oidc:mail-assistant'] });
    for (const user of ['oidc:alice', 'oidc:mail-assistant']) {
      const client = await env.person(user, ['mail-approvers']);
      expect(await refusal(decide(client, ns, name, { user, groups: ['mail-approvers'], decision: 'approve' })))
        .toContain(`${user} asked for this call (spec.requester: the API server authenticates the requester as ${user}) and may not decide on it`);
    }
    const bob = await env.person('bob', ['mail-approvers']);
    expect(await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' }))).toBeUndefined();
  });

  it('refuses a non-member, and a member of other groups claiming an approver group', async () => {
    const name = await held();
    const mallory = await env.person('mallory', ['marketing']);
    expect(await refusal(decide(mallory, ns, name, { user: 'mallory', groups: ['marketing'], decision: 'approve' })))
      .toContain(`mallory may not decide on ApprovalRequest ${name}: it needs a member of mail-approvers, sre (spec.approvers); mallory is in none of them`);
    expect(await refusal(decide(mallory, ns, name, { user: 'mallory', groups: ['sre'], decision: 'approve' })))
      .toContain('status.decisions[0].groups lists sre, which mallory is not a member of; record only the groups you are authenticated with');
  });

  it('refuses a decision written in someone else\'s name', async () => {
    const name = await held();
    const bob = await env.person('bob', ['mail-approvers']);
    expect(await refusal(decide(bob, ns, name, { user: 'carol', groups: ['mail-approvers'], decision: 'approve' })))
      .toContain('status.decisions[0].user is "carol" but you are authenticated as "bob": a decision must carry the name of the person making it');
  });

  it('refuses editing or deleting an earlier decision, and adding two at once', async () => {
    const name = await held({ quorum: 2 });
    const bob = await env.person('bob', ['mail-approvers']);
    const carol = await env.person('carol', ['sre']);
    await decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' });
    const flip = await refusal(decide(carol, ns, name, { user: 'carol', groups: ['sre'], decision: 'approve' }, (d) => [{ ...d[0]!, decision: 'deny' }, d[1]!]));
    expect(flip).toContain('status.decisions is append-only: this update edits or removes recorded decision(s) at index 0; add a new entry at the end instead');
    const erase = await refusal(decide(carol, ns, name, { user: 'carol', groups: ['sre'], decision: 'approve' }, (d) => d.slice(1)));
    expect(erase).toContain('status.decisions is append-only');
    const two = await refusal(decide(carol, ns, name, { user: 'carol', groups: ['sre'], decision: 'approve' }, (d) => [...d, { ...d[1]! }]));
    expect(two).toContain(`add exactly one decision per update: this update adds 2; each person records their own decision (kubectl mcp approve|deny ${name} -n ${ns})`);
  });

  it('refuses the same person approving twice toward a quorum, but accepts their later denial', async () => {
    const name = await held({ quorum: 2 });
    const bob = await env.person('bob', ['mail-approvers']);
    await decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' });
    expect(await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' })))
      .toContain(`bob has already decided on ApprovalRequest ${name}: a quorum needs distinct people`);
    expect(await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'deny', reason: 'changed my mind' }))).toBeUndefined();
  });

  it('refuses a person writing the phase or anything but decisions', async () => {
    const name = await held();
    const bob = await env.person('bob', ['mail-approvers']);
    expect(await refusal(writeStatus(bob, name, (s) => { s.phase = 'Approved'; })))
      .toContain('status.phase may only be written by the toolgate operator or authorizer');
  });

  it('refuses decisions on a request that is no longer Pending', async () => {
    const operator = new KubeClient(await env.operatorConfig());
    const bob = await env.person('bob', ['mail-approvers']);
    for (const phase of ['Expired', 'Denied'] as const) {
      const name = await held();
      await writeStatus(operator, name, (s) => { s.phase = phase; });
      const msg = await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' }));
      expect(msg).toContain(`ApprovalRequest ${name} is already ${phase}: decisions can only be added while it is Pending`);
      if (phase === 'Expired') expect(msg).toContain('the agent retries it and a new request is created');
    }
  });
});

describe('the operator and the authorizer', () => {
  it('the operator derives the phase but never touches decisions, never marks Consumed, never reopens a decision', async () => {
    const operator = new KubeClient(await env.operatorConfig());
    const name = await held();
    expect(await refusal(writeStatus(operator, name, (s) => { s.decisions = [{ user: 'bob', groups: ['sre'], decision: 'approve', time: '2026-01-01T00:00:00Z' }]; })))
      .toContain('the operator may not change status.decisions');
    expect(await refusal(writeStatus(operator, name, (s) => { s.phase = 'Consumed'; })))
      .toContain('the operator may not mark a request Consumed; only the authorizer releases an approved call');
    await writeStatus(operator, name, (s) => { s.phase = 'Approved'; });
    expect(await refusal(writeStatus(operator, name, (s) => { s.phase = 'Pending'; })))
      .toContain(`the operator may not move ApprovalRequest ${name} from Approved to Pending: a decided request is final`);
  });

  it('the authorizer moves Approved to Consumed exactly once; a racing replica gets 409', async () => {
    const operator = new KubeClient(await env.operatorConfig());
    const name = await held();
    expect(await refusal(writeStatus(env.authorizer(), name, (s) => Object.assign(s, { phase: 'Consumed', consumedBy: 'authorizer-0', consumedAt: '2026-01-01T00:00:00Z' }))))
      .toContain(`the authorizer may only move an Approved request to Consumed, setting status.consumedBy and status.consumedAt and nothing else, or a Pending or Approved request to Superseded with a Superseded condition; ApprovalRequest ${name} is Pending`);
    await writeStatus(operator, name, (s) => { s.phase = 'Approved'; });

    // Two replicas read the same Approved object and race to consume it.
    const read = await env.authorizer().get<ApprovalRequest>(approvalRef(ns, name));
    const consume = (pod: string) => env.authorizer().replace<ApprovalRequest>(approvalRef(ns, name, 'status'),
      { ...read, status: { ...read.status, phase: 'Consumed', consumedBy: pod, consumedAt: new Date().toISOString() } }, 'toolgate-authorizer');
    const first = await consume('authorizer-0');
    expect(first.status).toMatchObject({ phase: 'Consumed', consumedBy: 'authorizer-0' });
    const second = await consume('authorizer-1').then(() => undefined, (e: unknown) => e);
    expect(isConflict(second), String(second)).toBe(true);
    // Even with a fresh resourceVersion, a consumed request cannot be consumed again.
    expect(await refusal(writeStatus(env.authorizer(), name, (s) => { s.consumedBy = 'authorizer-1'; })))
      .toContain('is Consumed and this update changes status.consumedBy');
    const forged = { user: 'authorizer-0', groups: ['sre'], decision: 'approve' as const, time: '2026-01-01T00:00:00Z' };
    expect(await refusal(writeStatus(env.authorizer(), name, (s) => { s.decisions = [forged]; }))).toContain('the authorizer may not change status.decisions');
  });
});

describe('superseding', () => {
  const superseded = (s: NonNullable<ApprovalRequest['status']>) => Object.assign(s, {
    phase: 'Superseded',
    conditions: [...(s.conditions ?? []), { type: 'Superseded', status: 'True', reason: 'PolicyChanged', message: 'policy changed', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  });

  it('only the authorizer marks an open request Superseded, saying why, and then nobody decides on it', async () => {
    const operator = new KubeClient(await env.operatorConfig());
    const bob = await env.person('bob', ['mail-approvers']);
    const name = await held();
    expect(await refusal(writeStatus(operator, name, superseded))).toContain('the operator may not mark a request Superseded');
    expect(await refusal(writeStatus(bob, name, superseded))).toContain('may only be written by the toolgate operator or authorizer');
    expect(await refusal(writeStatus(env.authorizer(), name, (s) => { s.phase = 'Superseded'; }))).toContain('or a Pending or Approved request to Superseded with a Superseded condition');
    expect(await refusal(writeStatus(env.authorizer(), name, superseded))).toBeUndefined();
    expect(await refusal(decide(bob, ns, name, { user: 'bob', groups: ['mail-approvers'], decision: 'approve' })))
      .toContain(`ApprovalRequest ${name} is already Superseded: decisions can only be added while it is Pending (the policy changed what the call requires`);
  });

  it('an Approved request may be superseded, a decided or consumed one may not', async () => {
    const operator = new KubeClient(await env.operatorConfig());
    const approved = await held();
    await writeStatus(operator, approved, (s) => { s.phase = 'Approved'; });
    expect(await refusal(writeStatus(env.authorizer(), approved, superseded))).toBeUndefined();
    const denied = await held();
    await writeStatus(operator, denied, (s) => { s.phase = 'Denied'; });
    expect(await refusal(writeStatus(env.authorizer(), denied, superseded))).toContain(`ApprovalRequest ${denied} is Denied`);
  });
});
