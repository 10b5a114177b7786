// Refusal records in the audit trail: chained with the decisions, checked by the verifier like
// every other line, bounded where the client chose the strings, and free of tokens.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RefusalRecord } from '../gate/outcome.ts';
import { checkLine, maxClientString, recordContext, refusalBody } from './record.ts';
import { AuditTrail, verifyAuditFile } from './index.ts';

const log = pino({ level: 'silent' });
const caller = { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: ['reader'], scopes: ['mail:read'], tokenId: 'jti-secret-ish' };
const ctx = recordContext({ instance: 'test', digestKey: Buffer.alloc(32, 1) });
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);

const refusal = (over: Partial<RefusalRecord> = {}): RefusalRecord => ({
  frontEnd: 'ext_authz', stage: 'authentication', httpMethod: 'POST', httpStatus: 401, code: -31005, reason: 'authentication failed: token expired', ...over,
});

describe('refusal records', () => {
  it('chain with decisions and verify; editing one is found at its line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'toolgate-refusal-')), 'audit.jsonl');
    const trail = await AuditTrail.open({ file, log, fsync: false });
    trail.recordRefusal(refusal());
    trail.recordRefusal(refusal({ frontEnd: 'proxy', stage: 'decision', method: 'tools/call', httpStatus: 200, code: -31001, reason: 'denied by rule "x"', caller, server: 'gmail', tool: 'send_email', sessionId: 's-1', requestId: 7, decisionId: 'd-1' }));
    trail.recordRefusal(refusal({ stage: 'transport', httpMethod: 'PUT', httpStatus: 405, code: -32000, reason: 'HTTP method PUT is not part of MCP Streamable HTTP (POST, GET, DELETE)' }));
    await trail.close();

    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 3, head: { seq: 3 } });
    const [, first, second] = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toEqual({ type: 'refusal', version: 2, seq: 1, prev: expect.stringMatching(/^genesis:/), hash: expect.any(String), time: expect.any(String), frontEnd: 'ext_authz', stage: 'authentication', httpMethod: 'POST', httpStatus: 401, code: -31005, reason: 'authentication failed: token expired' });
    expect(second).toMatchObject({
      type: 'refusal', seq: 2, prev: first?.hash, frontEnd: 'proxy', stage: 'decision', method: 'tools/call', httpStatus: 200, code: -31001,
      caller: { agent: { instance: expect.stringMatching(/^commit:/), roles: ['reader'] }, operator: expect.stringMatching(/^commit:/), subject: expect.stringMatching(/^commit:/), issuer: 'https://issuer.test' }, server: 'gmail', tool: 'send_email', sessionId: 's-1', requestId: 7, decisionId: 'd-1',
    });
    const text = readFileSync(file, 'utf8');
    for (const secret of ['jti-secret-ish', 'mail:read']) expect(text).not.toContain(secret);

    const ls = lines(file);
    ls[2] = ls[2]!.replace('"httpStatus":200', '"httpStatus":403');
    writeFileSync(file, ls.map((l) => `${l}\n`).join(''));
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, line: 3, reason: expect.stringContaining('hash mismatch') });
  });

  it('cuts client-chosen strings to a bounded length', () => {
    const long = 'x'.repeat(maxClientString * 4);
    const { body } = refusalBody(refusal({ method: long, tool: long, server: long, requestId: long, reason: `method "${long}" is not allowed` }), ctx);
    for (const v of [body.method, body.tool, body.server, body.requestId, body.reason]) {
      expect(typeof v).toBe('string');
      expect((v as string).length).toBeLessThan(maxClientString + 40);
      expect(v).toMatch(/more\]$/);
    }
    expect(refusalBody(refusal({ requestId: 42 }), ctx).body.requestId).toBe(42);
  });

  it('is a line kind the checker knows, and an unknown kind is named', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'toolgate-refusal-')), 'audit.jsonl');
    return AuditTrail.open({ file, log, fsync: false }).then(async (t) => {
      t.recordRefusal(refusal());
      await t.close();
      const line = lines(file)[1]!;
      expect(checkLine(line)).toMatchObject({ ok: true, line: { type: 'refusal' } });
      expect(checkLine(line.replace('"type":"refusal"', '"type":"refused"'))).toMatchObject({ ok: false, reason: expect.stringContaining('"refusal"') });
    });
  });
});
