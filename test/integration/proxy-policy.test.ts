// A live session across policy changes: a new bundle revision changes what the same client
// sees and may call without reconnecting; a server added by the new revision joins the
// session, and one that is unreachable fails its own calls only.
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { connectClient, loadPolicy, startRig, testPolicy, type Rig } from './proxy-support.ts';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

describe('MCP proxy across bundle revisions', () => {
  it('applies a new revision to a live session: listing, decisions and new servers', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const before = (await client.listTools()).tools.map((t) => t.name);
      expect(before).toContain('everything__get-sum');
      expect(before).toContain('everything__get-structured-content');

      const base = testPolicy({ everything: rig.everything.url, mirror: rig.tap.url }, rig.issuer);
      await loadPolicy(rig.router, {
        ...base,
        spec: {
          ...base.spec,
          // Port 1 on loopback: nothing listens there.
          servers: [...base.spec.servers, { name: 'gone', url: 'http://127.0.0.1:1/mcp' }],
          policies: [
            { name: 'no-sums', priority: 5, when: { tools: ['get-sum'] }, action: 'deny' },
            { name: 'gone-allowed', priority: 6, when: { servers: ['gone'] }, action: 'allow' },
            ...base.spec.policies,
          ],
        },
      }, 'rev-2');
      rig.proxy.notifyToolsChanged();

      const after = (await client.listTools()).tools.map((t) => t.name);
      expect(after).not.toContain('everything__get-sum');
      // Everything else still there: the unreachable server costs its own tools only.
      expect(after).toContain('everything__get-structured-content');
      expect(after).toContain('mirror__echo');
      expect(after.some((n) => n.startsWith('gone__'))).toBe(false);

      const denied = await client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 1 } }).then(() => undefined, (e: unknown) => e as McpError);
      expect(denied).toBeInstanceOf(McpError);
      expect(denied!.code).toBe(ErrorCodes.policyDenied);
      expect(denied!.data).toMatchObject({ rule: 'no-sums', revision: 'rev-2' });

      // Issue 10: a server whose tool list cannot be read has no tool to decide, so its calls are
      // refused before any decision (503, tool catalog unavailable), not decided and then failed
      // upstream. The SDK surfaces the 503 as a transport error with the body.
      const failed = await client.callTool({ name: 'gone__anything', arguments: {} }).then(() => undefined, (e: unknown) => e as Error);
      expect(failed).toBeInstanceOf(Error);
      expect(failed).not.toBeInstanceOf(McpError);
      expect(failed!.message).toContain('tool catalog unavailable');
      expect(failed!.message).toMatch(/server ."gone." could not be listed/);

      const ok = await client.callTool({ name: 'mirror__get-annotated-message', arguments: { messageType: 'success' } });
      expect(ok.isError ?? false).toBe(false);
    } finally {
      await client.close();
    }
  });
});
