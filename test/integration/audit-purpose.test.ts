// GDPR purpose limitation (compliance row A13): a policy's spec.audit.requirePurposeFor makes a
// call to a personal-data tool state why it is made. Both front ends on one gate, as in an
// authorizer pod: the real MCP proxy with the official SDK client, and the real ext_authz gRPC
// server with the Envoy protos, in front of real "everything" servers (the mirror behind a tap
// that records what reached it), the compiled policy in the real wasm, and the real audit trail.
// The purpose is read from the JSON-RPC body only (params._meta["toolgate.io/purpose"]): a header
// claiming one does not count, so there is one source whichever front end decides.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { startExtAuthzServer, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { authorizationClient, checkOnce, envoyCheckRequest } from '../support/extauthz.ts';
import { connectClient, loadPolicy, startRig, testPolicy, type Rig } from './proxy-support.ts';

const purposeKey = 'toolgate.io/purpose';
let rig: Rig;
let trail: AuditTrail;
let file: string;
let ext: ExtAuthzServer;
let grpc: ReturnType<typeof authorizationClient>;

beforeAll(async () => {
  file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-purpose-')), 'audit.jsonl');
  trail = await AuditTrail.open({ file, log: pino({ level: 'silent' }), fsync: false });
  rig = await startRig({}, { onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r) });
  // The mirror's echo handles personal data; calls to it must state a purpose.
  await loadPolicy(rig.router, testPolicy({ everything: rig.everything.url, mirror: rig.tap.url }, rig.issuer, {
    toolOverrides: [{ server: 'mirror', tool: 'get-sum', scopes: ['math:sum'] }, { server: 'mirror', tool: 'echo', labels: ['data:pii'] }],
    audit: { requirePurposeFor: { labels: ['data:pii'] } },
  }), 'rev-purpose');
  ext = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log: pino({ level: 'silent' }), gate: rig.gate });
  grpc = authorizationClient(ext.port);
}, 60_000);

afterAll(async () => {
  grpc?.close();
  await ext?.close();
  await rig?.close();
  await trail?.close();
});

type Line = Record<string, unknown>;
const records = (): Line[] => readFileSync(file, 'utf8').split('\n').slice(1, -1).map((l) => JSON.parse(l) as Line);
const echoesSeen = () => rig.tap.calls.filter((c) => c.name === 'echo').map((c) => c.arguments.message);

describe('spec.audit.requirePurposeFor through both front ends', () => {
  it('the proxy refuses a personal-data call without a purpose, naming the _meta key; with one it is relayed; other tools need none', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token({ scope: 'math:sum' }));
    try {
      const refused = await client.callTool({ name: 'mirror__echo', arguments: { message: 'proxy-no-purpose' } }).then(() => undefined, (err: unknown) => err);
      expect(refused).toBeInstanceOf(McpError);
      expect(refused).toMatchObject({ code: ErrorCodes.policyDenied, message: expect.stringContaining(`params._meta["${purposeKey}"]`), data: { rule: 'toolgate:purpose-required' } });
      const relayed = await client.callTool({ name: 'mirror__echo', arguments: { message: 'proxy-with-purpose' }, _meta: { [purposeKey]: 'support ticket 4711' } });
      expect(JSON.stringify(relayed.content)).toContain('proxy-with-purpose');
      const sum = await client.callTool({ name: 'mirror__get-sum', arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(sum.content)).toContain('5');
    } finally {
      await client.close();
    }
    expect(echoesSeen()).toEqual(['proxy-with-purpose']);
  });

  it('ext_authz refuses it too, a purpose header does not stand in for the body\'s, and the body\'s purpose allows it', async () => {
    const token = await rig.token();
    const check = (params: Record<string, unknown>, headers: Record<string, string> = {}) => checkOnce(grpc, envoyCheckRequest({
      server: 'mirror', body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'envoy' }, ...params } }, headers: { authorization: `Bearer ${token}`, ...headers },
    }));
    for (const headers of [{} as Record<string, string>, { 'toolgate-purpose': 'a header claiming one', 'x-toolgate-purpose': 'another' }]) {
      const res = await check({}, headers);
      expect(res.ok_response).toBeUndefined();
      const body = JSON.parse(res.denied_response!.body) as { error: { code: number; message: string; data: { rule: string } } };
      expect(body.error).toMatchObject({ code: ErrorCodes.policyDenied, message: expect.stringContaining(`params._meta["${purposeKey}"]`), data: { rule: 'toolgate:purpose-required' } });
    }
    // An empty purpose is no purpose: refused as malformed before the policy is asked.
    const empty = await check({ _meta: { [purposeKey]: '  ' } });
    expect(JSON.parse(empty.denied_response!.body)).toMatchObject({ error: { code: -32602, message: expect.stringContaining('must not be empty') } });
    const allowed = await check({ _meta: { [purposeKey]: 'refund for order 991' } });
    expect(allowed.denied_response).toBeUndefined();
    expect(allowed.ok_response).toBeDefined();
  });

  it('the trail records each refusal under its rule and each allowed call with its purpose, and verifies', async () => {
    await trail.flush();
    const all = records();
    const echo = all.filter((r) => r.type === 'decision' && r.server === 'mirror' && r.tool === 'echo');
    expect(echo.map((d) => [d.rule, d.action, d.purpose ?? null])).toEqual([
      ['toolgate:purpose-required', 'deny', null],
      ['read-only', 'allow', 'support ticket 4711'],
      ['toolgate:purpose-required', 'deny', null],
      ['toolgate:purpose-required', 'deny', null],
      ['read-only', 'allow', 'refund for order 991'],
    ]);
    expect(all.find((r) => r.type === 'decision' && r.tool === 'get-sum')).toMatchObject({ action: 'allow', rule: 'read-only' });
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: all.length });
  });
});
