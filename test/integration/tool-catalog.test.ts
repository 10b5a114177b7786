// The authorizer's tool catalog against the real reference server: it lists the tools servers
// register only for capable clients, with the server's annotations, over the server's own
// credentials and nothing else; an unreachable server is unavailable, not an error that escapes.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamToolCatalog, mcpToolLister } from '../../authorizer/src/catalog/index.ts';
import { PolicyRouter, type GatewayConfig } from '../../authorizer/src/gate/index.ts';
import { startEverything, startUpstreamTap, type EverythingServer, type UpstreamTap } from './proxy-support.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let everything: EverythingServer;
let tap: UpstreamTap;
let catalog: UpstreamToolCatalog;
const credentialsAsked: string[] = [];

beforeAll(async () => {
  everything = await startEverything();
  tap = await startUpstreamTap(everything.url);
  const router = new PolicyRouter();
  router.update('team-a/agents', {
    gateway: {
      policy: { namespace: 'team-a', name: 'agents' },
      servers: [{ name: 'everything', url: tap.url }, { name: 'gone', url: 'http://127.0.0.1:1/mcp' }],
    } as GatewayConfig,
  });
  const headers = async (server: { name: string }, policy: { namespace: string }) => {
    credentialsAsked.push(`${policy.namespace}/${server.name}`);
    return { authorization: 'Bearer catalog-credential' };
  };
  catalog = new UpstreamToolCatalog({ router, lister: mcpToolLister({ headers, log }), log, timeoutMs: 10_000 });
}, 120_000);

afterAll(async () => {
  await catalog?.close();
  await Promise.all([tap?.close(), everything?.close()]);
});

describe('the tool catalog over the official SDK client', () => {
  it('lists every tool, those registered only for clients with sampling, roots or elicitation included', async () => {
    expect(await catalog.lookup('everything', 'get-sum')).toMatchObject({ kind: 'listed', tool: { name: 'get-sum' } });
    for (const tool of ['trigger-sampling-request', 'get-roots-list', 'trigger-elicitation-request']) {
      expect(await catalog.lookup('everything', tool), tool).toMatchObject({ kind: 'listed' });
    }
    expect(await catalog.lookup('everything', 'get-annotated-message')).toMatchObject({
      kind: 'listed', tool: { annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } },
    });
    expect(await catalog.lookup('everything', 'GET-SUM')).toEqual({ kind: 'unlisted' });
  });

  it('sends the server\'s own credentials on every request it makes, never a caller\'s', () => {
    expect(tap.seen.length).toBeGreaterThan(1);
    expect(tap.seen.map((h) => h.authorization)).toEqual(tap.seen.map(() => 'Bearer catalog-credential'));
    expect(credentialsAsked.every((c) => c === 'team-a/everything')).toBe(true);
    expect(tap.calls).toEqual([]);
  });

  it('answers unavailable, naming the server, when the server cannot be reached', async () => {
    const r = await catalog.lookup('gone', 'anything');
    expect(r).toMatchObject({ kind: 'unavailable', reason: expect.stringContaining('tools/list of server "gone" failed') });
  });
});
