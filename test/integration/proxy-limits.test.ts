// The proxy is no stricter than the SDK server behind it (issue 11): a 30 MiB tool result sent
// as one SSE event reaches the official SDK v1 client whole, and a 3 MiB request (under the
// SDK server's 4 MiB) reaches the server; a smaller configured upstream event limit fails the
// call with an error naming the server instead of passing part of it.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startAllowAllProxy, type AllowAllProxy } from './proxy-support.ts';
import { startStatelessMcpServer } from '../support/stateless-mcp-server.ts';

const bigChars = 30 * 1024 * 1024;

/** A stateless SDK server answering over SSE: `big` returns 30 Mi characters, `size` the length of its argument. */
async function startBigServer(): Promise<{ url: string; close(): Promise<void> }> {
  return startStatelessMcpServer(() => {
    const server = new Server({ name: 'big', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'big', inputSchema: { type: 'object' as const } }, { name: 'size', inputSchema: { type: 'object' as const } }],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (r) => ({
      content: [{ type: 'text', text: r.params.name === 'big' ? 'x'.repeat(bigChars) : String(String(r.params.arguments?.pad ?? '').length) }],
    }));
    return server;
  });
}

let upstream: { url: string; close(): Promise<void> };
let front: AllowAllProxy;
let strict: AllowAllProxy;

beforeAll(async () => {
  upstream = await startBigServer();
  front = await startAllowAllProxy([{ name: 'big', url: upstream.url }]);
  strict = await startAllowAllProxy([{ name: 'big', url: upstream.url }], { maxSseEventChars: 1024 * 1024 });
}, 120_000);

afterAll(async () => {
  await front?.close();
  await strict?.close();
  await upstream?.close();
});

describe('proxy limits at least the SDK\'s', () => {
  it('relays a 30 MiB result and a 3 MiB request', async () => {
    const { client } = await connectClient(front.proxy.url, await front.token());
    try {
      const result = await client.callTool({ name: 'big', arguments: {} }, undefined, { timeout: 120_000 });
      const text = (result.content as Array<{ text: string }>)[0]!.text;
      expect(text.length).toBe(bigChars);
      const pad = 'y'.repeat(3 * 1024 * 1024);
      const sized = await client.callTool({ name: 'size', arguments: { pad } });
      expect(sized.content).toEqual([{ type: 'text', text: String(pad.length) }]);
    } finally {
      await client.close();
    }
  });

  it('fails a result above a configured upstream event limit with an error naming the server', async () => {
    const { client } = await connectClient(strict.proxy.url, await strict.token());
    try {
      const err = await client.callTool({ name: 'big', arguments: {} }, undefined, { timeout: 120_000 }).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toContain('upstream server "big"');
      expect(err?.message).toContain('longer than 1048576 characters');
    } finally {
      await client.close();
    }
  });
});
