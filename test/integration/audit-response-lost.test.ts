// A response record that cannot be written (compliance row A4, issue 13: "can a failure to record
// stop the record but not the call?"). The decision record is what fails closed: it is written
// before the call goes out (spec.audit.onFailure). Once the upstream has acted, the answer is
// relayed even when its response record is lost — withholding it would not undo the action and
// would invite a retry that repeats it — and the loss is counted and logged with the decision id.
// Real parts: the MCP proxy with the official SDK client in front of real "everything" servers,
// and the audit trail writing into a FIFO (real file system) whose reader goes away, so each
// write fails with EPIPE as a vanished disk would fail it.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../authorizer/src/audit/index.ts';
import { connectClient, startRig, type Rig } from './proxy-support.ts';

let rig: Rig;
let trail: AuditTrail;
let registry: Registry;
let reader: number | undefined;
let fifo: string;

const metric = async (name: string) => Number((await registry.getSingleMetricAsString(name)).match(/ (\d+)$/m)?.[1] ?? 0);
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
  fifo = join(mkdtempSync(join(tmpdir(), 'toolgate-response-lost-')), 'trail.fifo');
  execFileSync('mkfifo', [fifo]);
  reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  registry = new Registry();
  trail = await AuditTrail.open({ file: fifo, log: pino({ level: 'silent' }), registry, fsync: false });
  // onFailure Allow: the decision's loss lets the call through, so the answer's record is attempted too.
  rig = await startRig({}, { onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r), onResponse: (e) => trail.recordResponse(e), auditOnFailure: () => 'Allow' });
}, 60_000);

afterAll(async () => {
  await rig?.close();
  if (reader !== undefined) closeSync(reader);
  await trail?.close().catch(() => undefined);
});

describe('a response record that cannot be written', () => {
  it('is written beside its decision while the trail works', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const r = await client.callTool({ name: 'everything__echo', arguments: { message: 'recorded' } });
      expect(JSON.stringify(r.content)).toContain('recorded');
    } finally {
      await client.close();
    }
    await trail.flush();
    const types = drained().trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types).toEqual(expect.arrayContaining(['decision', 'response']));
    expect(await metric('toolgate_authorizer_audit_response_records_lost_total')).toBe(0);
  });

  it('does not withhold the answer once the upstream acted: relayed, counted as lost, the next call alike', async () => {
    closeSync(reader as number);
    reader = undefined;
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      for (const message of ['first-after-loss', 'second-after-loss']) {
        const r = await client.callTool({ name: 'everything__echo', arguments: { message } });
        expect(JSON.stringify(r.content)).toContain(message);
      }
    } finally {
      await client.close();
    }
    await trail.flush();
    expect(await metric('toolgate_authorizer_audit_response_records_lost_total')).toBe(2);
    // Every lost line is counted among the write errors too (decisions and responses alike).
    expect(await metric('toolgate_authorizer_audit_write_errors_total')).toBeGreaterThanOrEqual(4);
  });
});
