// Fields a profile (or a toolOverride) marks personal reach the audit redactor: compiled into the
// bundle's gateway part, looked up per call by the authorizer's wiring (markedPersonalFields),
// and written as [REDACTED:personal-field] whatever they look like — a passphrase or a name no
// detector recognises never reaches the file; other tools' same-named fields are untouched.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { McpProfile, McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { gatewayConfigContract } from '../../../pkg/contracts/gateway.ts';
import { compilePolicy } from '../../../pkg/policy/compiler/index.ts';
import { markedPersonalFields } from '../authorizer.ts';
import type { DecisionRecord } from '../gate/decision-path.ts';
import { PolicyRouter } from '../gate/policy-router.ts';
import { AuditTrail } from './trail.ts';
import { verifyAuditFile } from './verify.ts';

const profile: McpProfile = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile', metadata: { name: 'crm' },
  spec: { service: 'crm', version: '1.0.0', tools: [
    { name: 'update_contact', personalFields: ['contact.name', 'contact.phones[*]'] },
    { name: 'add_note', personalFields: ['note'] },
    { name: 'search' },
  ] },
};

const policy: McpSecurityPolicy = {
  apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'ns', name: 'p' },
  spec: {
    servers: [{ name: 'crm', url: 'http://crm/mcp' }, { name: 'wiki', url: 'http://wiki/mcp' }],
    profiles: [{ name: 'crm' }],
    toolOverrides: [{ server: 'crm', tool: 'update_contact', personalFields: ['contact.name', 'contact.birthday'] }, { server: 'wiki', tool: 'add_note' }],
    policies: [{ name: 'all', priority: 1, when: {}, action: 'allow' }],
  },
};

function decision(server: string, tool: string, args: Record<string, unknown>): DecisionRecord {
  return {
    durationMs: 0.1,
    call: { server, tool, arguments: args, frontEnd: 'proxy', caller: { agent: 'a', subject: 's', issuer: 'https://i', roles: [], scopes: [] } },
    verdict: {
      decisionId: `d-${server}-${tool}`, revision: 'r', effect: 'proceed',
      decision: { action: 'allow', rule: 'all', reasons: [], labels: [], annotations: {}, verb: '', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } },
    },
  };
}

describe('fields a profile marks personal', () => {
  it('compile into the gateway part per server and tool, the profile\'s and the override\'s together', () => {
    const { data, problems } = compilePolicy(policy, new Map([['crm', profile]]));
    expect(problems).toEqual([]);
    expect(data!.toolgate.gateway.personalFields).toEqual({ crm: { add_note: ['note'], update_contact: ['contact.birthday', 'contact.name', 'contact.phones[*]'] } });
    expect(gatewayConfigContract.problem(data!.toolgate.gateway)).toBeUndefined();
    const plain = compilePolicy({ ...policy, spec: { ...policy.spec, profiles: [], toolOverrides: [] } }, new Map());
    expect(plain.data!.toolgate.gateway).not.toHaveProperty('personalFields');
  });

  it('are never written raw: the audit record holds [REDACTED:personal-field] for them, only for that tool', async () => {
    const { data } = compilePolicy(policy, new Map([['crm', profile]]));
    const router = new PolicyRouter();
    router.update('ns/p', { gateway: data!.toolgate.gateway, data });
    const file = join(mkdtempSync(join(tmpdir(), 'toolgate-personal-')), 'audit.jsonl');
    const trail = await AuditTrail.open({ file, log: pino({ level: 'silent' }), fsync: false, personalFields: markedPersonalFields(router) });
    await trail.record(decision('crm', 'update_contact', { contact: { name: 'Zebedee Quorn', phones: ['0049 30 1234', 'ext. nine'], birthday: '1970-01-01', id: 'c-17' } }));
    await trail.record(decision('crm', 'add_note', { note: 'the passphrase is horse battery staple' }));
    await trail.record(decision('wiki', 'add_note', { note: 'public wiki text' }));
    await trail.close();
    const text = readFileSync(file, 'utf8');
    for (const raw of ['Zebedee', 'Quorn', 'ext. nine', '1970-01-01', 'horse battery']) expect(text).not.toContain(raw);
    const records = text.split('\n').slice(1, -1).map((l) => JSON.parse(l) as { type: string; arguments?: unknown; redactions?: Record<string, number> }).filter((r) => r.type === 'decision');
    expect(records[0]).toMatchObject({
      arguments: { contact: { name: '[REDACTED:personal-field]', phones: ['[REDACTED:personal-field]', '[REDACTED:personal-field]'], birthday: '[REDACTED:personal-field]', id: 'c-17' } },
      redactions: { 'personal-field': 4 },
    });
    expect(records[1]).toMatchObject({ arguments: { note: '[REDACTED:personal-field]' } });
    expect(records[2]).toMatchObject({ arguments: { note: 'public wiki text' } });
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 3 });
  });
});
