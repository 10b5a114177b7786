// With a policy that allows everything, a client cannot tell the proxy from the server behind
// it (issue 11): the official SDK v1 client talks to the reference "everything" server (npm)
// directly and through the proxy fronting it, at every protocol version the proxy speaks, and
// every answer must be the same: the initialize result (protocol version, serverInfo,
// instructions, capabilities), tools/list, resources (pages, templates, read), prompts (list,
// get), completion and logging/setLevel.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { supportedProtocolVersions } from '../../authorizer/src/proxy/index.ts';
import { startFrontedEverything, type FrontedServer } from './proxy-support.ts';

let front: FrontedServer;

beforeAll(async () => {
  front = await startFrontedEverything();
}, 120_000);

afterAll(async () => {
  await front?.close();
});

/** The SDK client always asks for its newest version; this transport asks for `version` instead. */
function pinnedTransport(url: string, version: string, headers: Record<string, string> = {}): StreamableHTTPClientTransport {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const send = transport.send.bind(transport);
  transport.send = (message: JSONRPCMessage, options) => {
    const m = message as { method?: string; params?: Record<string, unknown> };
    return send(m.method === 'initialize' ? { ...message, params: { ...m.params, protocolVersion: version } } as JSONRPCMessage : message, options);
  };
  return transport;
}

async function connect(url: string, version: string, headers: Record<string, string> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'fidelity', version: '1.0.0' }, { capabilities: { sampling: {}, roots: { listChanged: true } } });
  const transport = pinnedTransport(url, version, headers);
  await client.connect(transport);
  return { client, transport };
}

/** Everything a client can observe of a server, through the SDK client. */
async function observe(client: Client, transport: StreamableHTTPClientTransport): Promise<Record<string, unknown>> {
  const resources = await client.listResources();
  const nextPage = resources.nextCursor ? await client.listResources({ cursor: resources.nextCursor }) : undefined;
  const templates = await client.listResourceTemplates();
  const firstUri = resources.resources[0]?.uri;
  const prompts = await client.listPrompts();
  const simple = prompts.prompts.find((p) => !(p.arguments ?? []).some((a) => a.required));
  const completable = prompts.prompts.find((p) => p.name === 'completable-prompt');
  const template = templates.resourceTemplates[0]?.uriTemplate;
  return {
    protocolVersion: transport.protocolVersion,
    serverInfo: client.getServerVersion(),
    instructions: client.getInstructions(),
    capabilities: client.getServerCapabilities(),
    tools: (await client.listTools()).tools,
    resources, nextPage, templates,
    read: firstUri ? await client.readResource({ uri: firstUri }) : undefined,
    prompts,
    prompt: simple ? await client.getPrompt({ name: simple.name }) : undefined,
    promptCompletion: completable ? await client.complete({ ref: { type: 'ref/prompt', name: completable.name }, argument: { name: 'department', value: 'S' } }) : undefined,
    resourceCompletion: template ? await client.complete({ ref: { type: 'ref/resource', uri: template }, argument: { name: 'resourceId', value: '1' } }) : undefined,
    setLevel: await client.setLoggingLevel('warning'),
  };
}

describe('the proxy fronting one server is indistinguishable from it (allow-all policy)', () => {
  it.each([...supportedProtocolVersions])('at protocol version %s', async (version) => {
    const direct = await connect(front.everything.url, version);
    const token = await front.token();
    const proxied = await connect(front.proxy.url, version, { authorization: `Bearer ${token}` });
    try {
      const seenDirect = await observe(direct.client, direct.transport);
      const seenProxied = await observe(proxied.client, proxied.transport);
      // The server really negotiated the version asked for, and has what is compared here.
      expect(seenDirect.protocolVersion).toBe(version);
      expect(seenDirect.instructions).toEqual(expect.any(String));
      expect(seenDirect.capabilities).toMatchObject({ resources: {}, prompts: {}, logging: {}, completions: {} });
      expect((seenDirect.resources as { resources: unknown[] }).resources.length).toBeGreaterThan(0);
      expect((seenDirect.promptCompletion as { completion: { values: string[] } }).completion.values).toEqual(['Sales', 'Support']);
      expect((seenDirect.tools as Array<{ name: string }>).map((t) => t.name)).toContain('echo');
      expect(seenProxied).toEqual(seenDirect);
    } finally {
      await direct.client.close();
      await proxied.client.close();
    }
  });

  it('relays a tool call under the server\'s own tool name, and refuses a prefixed one as unknown', async () => {
    const token = await front.token();
    const { client } = await connect(front.proxy.url, '2025-11-25', { authorization: `Bearer ${token}` });
    try {
      const result = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
      expect(result.content).toEqual([{ type: 'text', text: 'Echo: hi' }]);
      const prefixed = await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }).then(() => undefined, (e: unknown) => e as Error);
      expect(prefixed?.message).toContain('unknown tool "everything__echo"');
    } finally {
      await client.close();
    }
  });
});
