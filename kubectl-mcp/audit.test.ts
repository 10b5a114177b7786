// `kubectl mcp audit verify|show|erase` on a real trail written by AuditTrail: exit codes, the
// readable table and -o json, the precise break report, and erasure through the command line.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { signerFromPem } from '../authorizer/src/audit/checkpoint.ts';
import { AuditTrail } from '../authorizer/src/audit/trail.ts';
import type { DecisionRecord } from '../authorizer/src/gate/decision-path.ts';
import type { AuditRow } from './audit-table.ts';
import { runKubectlMcp } from '../test/support/kubectl-mcp.ts';

const dir = mkdtempSync(join(tmpdir(), 'toolgate-kubectl-audit-'));
let n = 0;

const run = runKubectlMcp;

function decision(i: number, operator: string, action: 'allow' | 'require_approval' = 'allow'): DecisionRecord {
  return {
    durationMs: 0.1,
    call: { server: 'gmail', tool: 'send_email', arguments: { to: `${operator}`, body: 'card 4111 1111 1111 1111' }, frontEnd: 'proxy', caller: { subject: operator, operator, agent: 'mail-agent', issuer: 'https://issuer.test', roles: ['sender'], scopes: [] } },
    verdict: {
      decisionId: `d-${i}`, revision: 'rev-1', effect: action === 'allow' ? 'proceed' : 'hold',
      decision: { action, rule: action === 'allow' ? 'send-internal' : 'bulk-send', reasons: [], labels: [], annotations: {}, verb: 'create', approvers: [], quorum: 0, timeout: '', enforcement: 'enforce', sources: [], policy: { namespace: 'ns', name: 'p' } },
    },
  };
}

async function trail(): Promise<{ file: string; key: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = join(dir, `pub-${++n}.pem`);
  writeFileSync(key, publicKey.export({ type: 'spki', format: 'pem' }));
  const file = join(dir, `trail-${n}.jsonl`);
  const t = await AuditTrail.open({ file, log: pino({ level: 'silent' }), fsync: false, instance: 'authorizer-0', checkpointEvery: 2, signer: await signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'k') });
  t.record(decision(1, 'alice@example.com'));
  t.record(decision(2, 'bob@example.com', 'require_approval'));
  t.record(decision(3, 'alice@example.com'));
  await t.close();
  return { file, key };
}

describe('kubectl mcp audit', () => {
  it('verify: exit 0 with "intact to checkpoint N (seq S)"; exit 1 naming the edited line', async () => {
    const { file, key } = await trail();
    const ok = await run('audit', 'verify', file, '--key', key);
    expect(ok).toMatchObject({ code: 0, out: expect.stringContaining('ok: intact to checkpoint 2 (seq 5); 3 records, head seq 5') });
    const json = await run('audit', 'verify', file, '--key', key, '-o', 'json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, checkpoint: { index: 2, seq: 5 }, signaturesChecked: true });
    const ls = readFileSync(file, 'utf8').split('\n');
    ls[1] = ls[1]!.replace('"action":"allow"', '"action":"deny"');
    writeFileSync(file, ls.join('\n'));
    expect(await run('audit', 'verify', file, '--key', key)).toMatchObject({ code: 1, err: expect.stringContaining('line 2 (seq 1): edited — hash mismatch') });
  });

  it('show: a table with time, agent, operator, server/tool, action, approval and outcome; -o json rows', async () => {
    const { file } = await trail();
    const table = await run('audit', 'show', file, '--type', 'decision');
    expect(table.code).toBe(0);
    const [header, ...rows] = table.out.trimEnd().split('\n');
    expect(header).toMatch(/^SEQ\s+TIME\s+AGENT\s+OPERATOR\s+SERVER\/TOOL\s+ACTION\s+APPROVAL\s+OUTCOME$/);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatch(/mail-agent\s+bob@example\.com\s+gmail\/send_email\s+require_approval\s+pending\s+rule bulk-send/);
    expect(table.out).not.toContain('commit:');
    expect(table.out).not.toContain('4111');
    const json = await run('audit', 'show', file, '-o', 'json');
    const parsed = JSON.parse(json.out) as AuditRow[];
    expect(parsed.map((r) => r.type)).toEqual(['open', 'decision', 'decision', 'checkpoint', 'decision', 'checkpoint']);
    expect(parsed[1]).toMatchObject({ agent: 'mail-agent', operator: 'alice@example.com', server: 'gmail', tool: 'send_email', action: 'allow', approval: 'bypassed', decisionId: 'd-1' });
  });

  it('erase: the subject is gone from the file, the trail still verifies, the erasure shows', async () => {
    const { file, key } = await trail();
    const r = await run('audit', 'erase', '--subject', 'alice@example.com', '--reason', 'ticket 123', file, '--key', key);
    expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/2 values on 2 lines replaced by pseudonym:[0-9a-f]{32}; the erasure is recorded at seq 6/) });
    expect(readFileSync(file, 'utf8')).not.toContain('alice');
    expect(await run('audit', 'verify', file, '--key', key)).toMatchObject({ code: 0, out: expect.stringContaining('1 erasures') });
    const shown = await run('audit', 'show', file, '--type', 'decision', '--type', 'erasure');
    expect(shown.out).toMatch(/pseudonym:[0-9a-f]{32}/);
    expect(shown.out).toContain('bob@example.com');
  });

  it('usage errors exit 2 and name what is wrong; a malformed S3 source is named', async () => {
    expect(await run('audit', 'verify')).toMatchObject({ code: 1, err: expect.stringContaining('which trail? give a FILE') });
    expect(await run('audit', 'erase', 'x.jsonl')).toMatchObject({ code: 2, err: expect.stringContaining('give --subject ID') });
    expect(await run('audit', 'frob')).toMatchObject({ code: 2, err: expect.stringContaining('unknown audit command "frob"') });
    expect(await run('audit', 'verify', 'f', '--expect-seq', 'ten')).toMatchObject({ code: 2, err: expect.stringContaining('--expect-seq must be a whole number') });
    expect(await run('audit', 'verify', '--s3', 'https://bucket/trail')).toMatchObject({ code: 1, err: expect.stringContaining('give s3://BUCKET/PREFIX/INSTANCE') });
    expect(await run('audit', 'verify', 'f', '--s3', 's3://bucket/trail')).toMatchObject({ code: 1, err: expect.stringContaining('give a FILE or --s3, not both') });
    expect(await run('audit', 'verify', join(dir, 'nope.jsonl'))).toMatchObject({ code: 1, err: expect.stringContaining('cannot read') });
  });
});
