// What the upstream answered, in the audit trail (compliance rows A3, A4): the real MCP proxy in
// front of two real "everything" servers, the official SDK client, the compiled test policy in
// the real wasm, and an audit file written by the real trail. Every call that was let through
// gets a `response` line naming its decision; the answer's text is summarised redacted; the
// decision line carries the scopes the tool's classification required; the chain verifies.
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { classifiedScopes } from '../../authorizer/src/authorizer.ts';
import type { PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { connectClient, startRig, type Rig } from './proxy-support.ts';

let rig: Rig;
let trail: AuditTrail;
let file: string;
let router: PolicyRouter | undefined;

beforeAll(async () => {
  file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-responses-')), 'audit.jsonl');
  // The rig makes its router; the trail asks it for a call's scopes once it exists, as the authorizer wires it.
  trail = await AuditTrail.open({ file, log: pino({ level: 'silent' }), fsync: false, requiredScopes: (call) => (router ? classifiedScopes(router)(call) : undefined) });
  rig = await startRig({}, { onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r), onResponse: (e) => trail.recordResponse(e) });
  router = rig.router;
}, 60_000);

afterAll(async () => {
  await rig?.close();
  await trail?.close();
});

type Line = Record<string, unknown>;
const records = (): Line[] => readFileSync(file, 'utf8').split('\n').slice(1, -1).map((l) => JSON.parse(l) as Line);

describe('audit response records through the MCP proxy', () => {
  it('records each relayed answer against its decision, redacted, with the scopes the decision required, and the chain verifies', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token({ scope: 'math:sum' }));
    try {
      const echoed = await client.callTool({ name: 'everything__echo', arguments: { message: 'write to bob.secret@example.com please' }, _meta: { 'toolgate.io/purpose': 'ticket 4711 for carol.p@example.com' } });
      expect(JSON.stringify(echoed.content)).toContain('bob.secret@example.com');
      const summed = await client.callTool({ name: 'mirror__get-sum', arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(summed.content)).toContain('5');
      // The server's own validation fails: its answer is an error (isError result or JSON-RPC error).
      const failed = await client.callTool({ name: 'mirror__get-sum', arguments: { a: 'two', b: 3 } }).then((r) => ({ isError: r.isError === true }), () => ({ isError: true }));
      expect(failed.isError).toBe(true);
      // A stated purpose that is not a string is refused by the gate, naming the key; nothing is relayed.
      const badPurpose = await client.callTool({ name: 'everything__echo', arguments: { message: 'x' }, _meta: { 'toolgate.io/purpose': 42 } }).then(() => undefined, (err: { code?: number; message: string }) => err);
      expect(badPurpose).toMatchObject({ code: -32602, message: expect.stringContaining('params._meta["toolgate.io/purpose"] must be a string') });
    } finally {
      await client.close();
    }
    await trail.flush();

    const all = records();
    const decisions = all.filter((r) => r.type === 'decision');
    const responses = all.filter((r) => r.type === 'response');
    expect(decisions.map((d) => `${d.server as string}/${d.tool as string}:${d.action as string}`)).toEqual(['everything/echo:allow', 'mirror/get-sum:allow', 'mirror/get-sum:allow']);
    // One response per decision, in order, each naming the decision it answers.
    expect(responses.map((r) => r.decisionId)).toEqual(decisions.map((d) => d.decisionId));
    expect(responses.map((r) => [r.server, r.tool, r.status])).toEqual([['everything', 'echo', 'success'], ['mirror', 'get-sum', 'success'], ['mirror', 'get-sum', 'error']]);
    // The answer's text, redacted before it was written.
    expect(responses[0]).toMatchObject({ outcome: expect.stringContaining('[REDACTED:email]'), redactions: { email: 1 } });
    expect(responses[1]?.outcome).toContain('5');
    expect(String(responses[2]?.outcome)).not.toBe('');
    expect(readFileSync(file, 'utf8')).not.toContain('bob.secret@example.com');
    // A3: the scopes the tool's classification required (the mirror's get-sum: math:sum) and those the token carried.
    expect(decisions[1]).toMatchObject({ scopes: { required: ['math:sum'], used: ['math:sum'] } });
    expect(decisions[0]).toMatchObject({ scopes: { required: [], used: [] } });
    // A13: the stated purpose is in the decision record, redacted; a call without one has none.
    expect(decisions[0]).toMatchObject({ purpose: 'ticket 4711 for [REDACTED:email]' });
    expect(decisions[1]).not.toHaveProperty('purpose');
    expect(readFileSync(file, 'utf8')).not.toContain('carol.p@example.com');
    expect(all.filter((r) => r.type === 'refusal')).toMatchObject([{ stage: 'message', code: -32602, tool: 'echo' }]);

    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: all.length });
  });
});
