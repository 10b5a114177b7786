// Response records on the MCP 2026-07-28 path (compliance row A4): the v2 SDK client
// (@modelcontextprotocol/client 2.4) → the real proxy (sessionless 2026-07-28 handler, real
// policy.wasm, tokens verified by the identity module) → a real 2026-07-28-only server
// (@modelcontextprotocol/server 2.4, test/fixtures/mcp-2026/server.ts), with the real audit
// trail on a file. Each relayed answer gets a response line naming its decision, its text
// redacted; a refused call gets none; the chain verifies.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { UpstreamToolCatalog } from '../../authorizer/src/catalog/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy, type McpProxy } from '../../authorizer/src/proxy/index.ts';
import { modernToolLister } from '../../authorizer/src/proxy/stateless/index.ts';
import { startMcp2026Server, type Mcp2026Server } from '../fixtures/mcp-2026/server.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { audience, loadPolicy } from './proxy-support.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const version = '2026-07-28';

let issuer: TestIssuer;
let upstream: Mcp2026Server;
let catalog: UpstreamToolCatalog;
let proxy: McpProxy;
let trail: AuditTrail;
let file: string;

function policy(url: string): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy', metadata: { namespace: 'team-a', name: 'modern' },
    spec: {
      servers: [{ name: 'fixture', url }],
      policies: [
        { name: 'no-deleting', priority: 10, when: { tools: ['delete-all'] }, action: 'deny' },
        { name: 'echo-allowed', priority: 20, when: { tools: ['echo'] }, action: 'allow' },
      ],
      identity: { issuer: issuer.issuer, audience, jwksUri: issuer.jwksUri },
    },
  };
}

beforeAll(async () => {
  file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-2026-')), 'audit.jsonl');
  trail = await AuditTrail.open({ file, log, fsync: false });
  issuer = await startJwtIssuer({ audience });
  upstream = await startMcp2026Server([{ name: 'echo' }, { name: 'delete-all', annotations: { destructiveHint: true } }]);
  const router = new PolicyRouter();
  const gateway = await loadPolicy(router, policy(upstream.url), 'rev-1');
  const verifier = createTokenVerifier(gateway.identity!, {});
  const upstreamHeaders = async () => ({ authorization: 'Bearer upstream-credential' });
  catalog = new UpstreamToolCatalog({ router, lister: modernToolLister({ headers: upstreamHeaders, log }), log });
  const gate = new Gate({
    router, log, catalog, authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
    onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r), onResponse: (e) => trail.recordResponse(e),
  });
  proxy = await startMcpProxy({ gate, upstreamHeaders, log });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await catalog?.close();
  await upstream?.close();
  await issuer?.close();
  await trail?.close();
});

type Line = Record<string, unknown>;
const records = (): Line[] => readFileSync(file, 'utf8').split('\n').slice(1, -1).map((l) => JSON.parse(l) as Line);

describe('audit response records on the 2026-07-28 path', () => {
  it('records each relayed answer against its decision, redacted, none for a refused call, and the chain verifies', async () => {
    const client = new Client({ name: 'v2-client', version: '1.0.0' }, { versionNegotiation: { mode: { pin: version } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(proxy.url), { requestInit: { headers: { authorization: `Bearer ${await issuer.mint({ sub: 'alice', azp: 'agent-1' })}` } } }));
    try {
      const r = await client.callTool({ name: 'echo', arguments: { text: 'mail dora.x@example.org' } });
      expect(JSON.stringify(r.content)).toContain('dora.x@example.org');
      await client.callTool({ name: 'echo', arguments: { text: 'second' } });
      const refused = await client.callTool({ name: 'delete-all', arguments: {} }).then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
    } finally {
      await client.close();
    }
    await trail.flush();
    const all = records();
    const decisions = all.filter((l) => l.type === 'decision');
    const responses = all.filter((l) => l.type === 'response');
    expect(decisions.map((d) => [d.tool, d.action])).toEqual([['echo', 'allow'], ['echo', 'allow'], ['delete-all', 'deny']]);
    expect(responses.map((r) => r.decisionId)).toEqual(decisions.slice(0, 2).map((d) => d.decisionId));
    expect(responses.map((r) => [r.server, r.tool, r.status])).toEqual([['fixture', 'echo', 'success'], ['fixture', 'echo', 'success']]);
    expect(responses[0]).toMatchObject({ outcome: expect.stringContaining('[REDACTED:email]'), redactions: { email: 1 } });
    expect(responses[1]?.outcome).toContain('second');
    expect(readFileSync(file, 'utf8')).not.toContain('dora.x@example.org');
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: all.length });
  });
});
