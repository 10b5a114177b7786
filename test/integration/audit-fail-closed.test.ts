// Regression (issue 10, audit that cannot be skipped): a failed audit write used to leave the
// decision answered as it was (logged and counted only), so a call could run with no record.
// Now the gate waits for the decision's record and refuses the call when it cannot be written,
// unless the governing policy says spec.audit.onFailure: Allow. The failure is real: the trail
// writes into a FIFO (real file system, no mock) whose reader goes away, so each write fails
// with EPIPE as a full or vanished disk would fail it. Fails on the code before: the second call
// was allowed.
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, closeSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../authorizer/src/audit/index.ts';
import { Gate, PolicyRouter, type AdmitContext, type AuditOnFailure } from '../../authorizer/src/gate/index.ts';
import { parseJsonRpc } from '../../authorizer/src/gate/jsonrpc.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';
import { compileFixture, loadFixtureRouter } from '../support/extauthz.ts';

const log = pino({ level: 'silent' });
const ctx: AdmitContext = { frontEnd: 'ext_authz', naming: { server: 'gmail' }, caller: { subject: 'alice', issuer: 'https://issuer.test', agent: 'agent-1', operator: 'alice', roles: [], scopes: [] } };
const readEmail = (id: number) => parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'read_email', arguments: { id: String(id) } } }));

let router: PolicyRouter;
let fifo: string;
let reader: number | undefined;
let trail: AuditTrail;
let registry: Registry;
let onFailure: AuditOnFailure = 'Refuse';
let gate: Gate;

const drained = (): string => {
  const buf = Buffer.alloc(1 << 16);
  let text = '';
  for (;;) {
    try {
      const n = readSync(reader as number, buf, 0, buf.length, null);
      if (n <= 0) return text;
      text += buf.subarray(0, n).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return text;
      throw err;
    }
  }
};

beforeAll(async () => {
  router = await loadFixtureRouter(compileFixture());
  fifo = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-')), 'trail.fifo');
  execFileSync('mkfifo', [fifo]);
  // A non-blocking reader first, so the trail's open for append does not wait for one.
  reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  registry = new Registry();
  trail = await AuditTrail.open({ file: fifo, log, registry, fsync: false });
  gate = new Gate({ router, log, catalog: anyNameCatalog, onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r), auditOnFailure: () => onFailure });
}, 60_000);

afterAll(async () => {
  if (reader !== undefined) closeSync(reader);
  await trail?.close().catch(() => undefined);
});

const lost = async () => (await registry.getSingleMetricAsString('toolgate_authorizer_audit_write_errors_total')).match(/ (\d+)$/m)?.[1];

describe('a decision that cannot be audited', () => {
  it('lets a call through once its record is written', async () => {
    expect(await gate.admit(readEmail(1), ctx)).toMatchObject({ kind: 'allow' });
    const lines = drained().trim().split('\n').map((l) => JSON.parse(l) as { kind?: string; body?: { kind?: string } });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(lines.at(-1))).toContain('read_email');
  });

  it('refuses the call (503, a clear error) when the write fails, and counts the lost record', async () => {
    closeSync(reader as number);
    reader = undefined;
    const before = Number(await lost() ?? 0);
    const a = await gate.admit(readEmail(2), ctx);
    if (a.kind !== 'refuse') throw new Error(`expected a refusal, got ${a.kind}`);
    expect(a.refusal).toMatchObject({ stage: 'decision', httpStatus: 503, id: 2, error: { code: -31003, message: expect.stringContaining('audit trail unavailable, call refused') } });
    expect(a.refusal.error.message).toContain(fifo);
    expect(Number(await lost())).toBeGreaterThan(before);
  });

  it('lets it through when the policy says spec.audit.onFailure: Allow', async () => {
    onFailure = 'Allow';
    try {
      expect(await gate.admit(readEmail(3), ctx)).toMatchObject({ kind: 'allow' });
    } finally {
      onFailure = 'Refuse';
    }
    expect((await gate.admit(readEmail(4), ctx)).kind).toBe('refuse');
  });

  it('still denies what the policy denies, audited or not', async () => {
    const a = await gate.admit(parseJsonRpc('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"delete_email","arguments":{"id":"1"}}}'), ctx);
    expect(a.kind).not.toBe('allow');
  });
});
