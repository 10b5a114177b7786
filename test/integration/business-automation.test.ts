// The `make demo` story through the real gate: the business-automation MCP server (the demo's
// fixture, official v1 SDK), the shipped profiles/business-automation.yaml installed as an
// McpProfile, the operator and the authorizer as their service accounts with the shipped RBAC
// and admission policy, approvers deciding with `kubectl mcp` code. The story (hack/demo/
// business-story.ts) is the demo's own; here every outcome, what reached the server and what the
// audit trail recorded are asserted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest, McpProfile } from '../../api/v1alpha1/index.ts';
import type { RunningAuthorizer } from '../../authorizer/src/authorizer.ts';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { auditRows } from '../../hack/demo/audit-table.ts';
import { approverGroups, businessPolicy, runBusinessStory, type StoryOutcome } from '../../hack/demo/business-story.ts';
import { startBusinessAutomationServer, type BusinessAutomationServer } from '../fixtures/business-automation/server.ts';
import { waitForApprovalAdmission } from '../harness/admission.ts';
import { admissionNames, applyAll, deleteAll, shippedAdmission, type Manifest } from '../harness/install.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { waitFor } from '../harness/kube.ts';
import { approver, approverRbac, type Approver } from './approvals-e2e-support.ts';
import { createInstall, fieldManager, policyRef, profileRef, startInstalledAuthorizer, startInstalledOperator, type TestInstall } from './install-support.ts';
import { audience } from './proxy-support.ts';

let install: TestInstall;
let gov: string;
let profileName: string;
let admission: Manifest[];
let server: BusinessAutomationServer;
let issuer: TestIssuer;
let operator: RunningOperator;
let authorizer: RunningAuthorizer;
let auditFile: string;
let outcomes: StoryOutcome[];
const byTool = (tool: string) => outcomes.filter((o) => o.tool === tool);

beforeAll(async () => {
  install = await createInstall('biz');
  gov = install.governed[0]!;
  admission = shippedAdmission(install);
  await applyAll(install.admin, admission, fieldManager);
  await waitForApprovalAdmission(install.admin, gov);
  await approverRbac(gov, Object.values(approverGroups));
  const deciders: Record<keyof typeof approverGroups, Approver> = {
    marketing: await approver('mia', [approverGroups.marketing]),
    frontDesk: await approver('fred', [approverGroups.frontDesk]),
    finance: await approver('fin', [approverGroups.finance]),
    dataStewards: await approver('dana', [approverGroups.dataStewards]),
  };

  const shipped = parse(readFileSync(join(import.meta.dirname, '../../profiles/business-automation.yaml'), 'utf8')) as McpProfile;
  profileName = `business-automation-${install.suffix}`;
  await install.admin.apply(profileRef(profileName), { ...shipped, metadata: { ...shipped.metadata, name: profileName } }, fieldManager);
  server = await startBusinessAutomationServer();
  issuer = await startJwtIssuer({ audience });
  const policy = businessPolicy({
    namespace: gov, serverUrl: server.url, profile: profileName, crmDeleteTimeout: '5s',
    identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
  });
  await install.admin.apply(policyRef(gov, policy.metadata.name), policy, fieldManager);
  operator = await startInstalledOperator(install);
  auditFile = join(install.dir, 'audit.jsonl');
  authorizer = await startInstalledAuthorizer(install, operator, [`${gov}/${policy.metadata.name}`], {
    approvals: { enabled: true, admission: { ...admissionNames(install), intervalMs: 300 } }, audit: { file: auditFile, fsync: false },
  });
  await waitFor(() => authorizer.ready(), { description: 'the authorizer to load the story policy', timeoutMs: 60_000 });

  outcomes = await runBusinessStory({
    proxyUrl: authorizer.proxy!.url,
    token: (scopes) => issuer.mint({ sub: 'alice', azp: 'campaign-agent', scope: scopes.join(' ') }),
    pendingRequest: (tool) => waitFor(async () => {
      const list = await install.admin.list<ApprovalRequest>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace: gov });
      return list.items.find((r) => r.spec.tool === tool);
    }, { description: `the ApprovalRequest for ${tool}`, timeoutMs: 30_000 }),
    decide: async (group, verb, request, reason) => {
      const r = await deciders[group].decide(verb, request, reason);
      if (r.code !== 0) throw new Error(`kubectl mcp ${verb} as ${deciders[group].name}: ${r.err}`);
    },
    say: () => undefined,
  });
  await authorizer.audit?.flush();
}, 240_000);

afterAll(async () => {
  await authorizer?.stop();
  await operator?.stop();
  await Promise.all([server?.close(), issuer?.close()]);
  if (admission) await deleteAll(install.admin, admission);
  if (profileName) await install.admin.delete(profileRef(profileName)).catch(() => undefined);
  await install?.remove();
});

describe('the business-automation story through the gate', () => {
  it('reads and a single follow-up are answered by the server', () => {
    const [contacts] = byTool('search_contacts');
    expect(contacts).toMatchObject({ result: 'answered' });
    expect(JSON.parse(contacts!.detail)).toMatchObject({ total: 340 });
    expect(byTool('send_message')[0]).toMatchObject({ result: 'answered', detail: expect.stringContaining('"delivered":1') });
  });

  it('a message carrying a credential is denied by the profile\'s classifier before it reaches the server', () => {
    expect(byTool('send_message')[1]).toMatchObject({ result: 'refused', code: ErrorCodes.policyDenied, detail: expect.stringContaining('no-secrets-out') });
    expect(server.calls.filter((c) => c.name === 'send_message')).toHaveLength(1);
  });

  it('the broadcast to 340 contacts was held, approved by marketing with kubectl mcp, and delivered once', () => {
    expect(byTool('send_bulk_message')).toEqual([expect.objectContaining({ result: 'answered', detail: expect.stringContaining('"delivered":340') })]);
    expect(server.calls.filter((c) => c.name === 'send_bulk_message')).toHaveLength(1);
  });

  it('the booking change was held and, denied by the front desk, never ran', () => {
    expect(byTool('modify_booking')[0]).toMatchObject({ result: 'refused', code: ErrorCodes.approvalDenied, detail: expect.stringContaining('fred') });
    expect(server.calls.some((c) => c.name === 'modify_booking')).toBe(false);
    expect(server.world.bookings.find((b) => b.id === 'BK-20240312-0047')?.start).toBe('2024-03-12T10:00:00Z');
  });

  it('the ad-spend change was held until finance approved it', () => {
    expect(byTool('update_ad_spend')[0]).toMatchObject({ result: 'answered', detail: expect.stringContaining('"daily_budget":400') });
    expect(server.world.campaigns.find((c) => c.id === 'AD-Q2-SEARCH')?.dailyBudget).toBe(400);
  });

  it('the CRM deletion nobody approved expired (timeout-to-abort) and the record is still there', () => {
    expect(byTool('delete_crm_record')[0]).toMatchObject({ result: 'refused', code: ErrorCodes.approvalExpired });
    expect(server.calls.some((c) => c.name === 'delete_crm_record')).toBe(false);
    expect(server.world.crm.map((r) => r.id)).toContain('CRM-1002');
  });

  it('a token carrying full_access is refused at connect', () => {
    expect(byTool('(connect)')[0]).toMatchObject({ result: 'refused', detail: expect.stringMatching(/full_access/) });
  });

  it('the audit trail verifies and records every decision and approval outcome the story produced', () => {
    const verified = execFileSync(process.execPath, [join(import.meta.dirname, '../../authorizer/src/audit/verify.ts'), auditFile], { encoding: 'utf8' });
    expect(verified).toMatch(/: ok, \d+ records, head seq \d+/);
    const rows = auditRows(readFileSync(auditFile, 'utf8'));
    const decisions = rows.filter((r) => r.record === 'decision').map((r) => `${r.tool.split(' ')[0]}:${r.result}`);
    expect(decisions).toEqual(expect.arrayContaining([
      'search_contacts:allow', 'send_message:allow', 'send_message:deny', 'send_bulk_message:require_approval',
      'modify_booking:require_approval', 'update_ad_spend:require_approval', 'delete_crm_record:require_approval',
    ]));
    expect(rows.find((r) => r.tool.startsWith('send_bulk_message') && r.record === 'decision')!.tool).toBe('send_bulk_message (340 recipients)');
    const approvals = rows.filter((r) => r.record === 'approval').map((r) => `${r.tool}:${r.result}`).sort();
    expect(approvals).toEqual(['delete_crm_record:expired', 'modify_booking:denied', 'send_bulk_message:released', 'update_ad_spend:released']);
    expect(rows.some((r) => r.record === 'refusal' && /full_access/.test(r.why))).toBe(true);
  });
});
