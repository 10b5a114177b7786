// One proxy endpoint aggregating two real servers — the reference "everything" server (npm) and
// a notes server built with the official SDK — under an allow-all policy, with the SDK v1
// client: capabilities merged, prompts prefixed like tools, resources routed by which server
// listed the URI or whose template matches, completion by its ref, logging fanned out. What
// cannot be attributed to one server is refused with an error saying so.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import {
  ErrorCode, GetPromptRequestSchema, ListPromptsRequestSchema, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, McpError, ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, rawPost, startAllowAllProxy, startEverything, type AllowAllProxy, type EverythingServer } from './proxy-support.ts';
import { startStatelessMcpServer } from '../support/stateless-mcp-server.ts';

/** A stateless SDK server (the low-level Server) with one resource, one resource template and one prompt. */
async function startNotesServer(): Promise<{ url: string; close(): Promise<void> }> {
  const build = () => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' }, { capabilities: { resources: {}, prompts: {} }, instructions: 'Notes are plain text.' });
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: [{ uri: 'note://welcome', name: 'welcome', mimeType: 'text/plain' }] }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: [{ uriTemplate: 'note://items/{id}', name: 'item' }] }));
    server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
      const { uri } = req.params;
      const item = /^note:\/\/items\/([^/]+)$/.exec(uri);
      if (uri !== 'note://welcome' && !item) throw new McpError(ErrorCode.InvalidParams, `no resource ${uri}`);
      return { contents: [{ uri, text: item ? `item ${item[1]}` : 'welcome note' }] };
    });
    server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: [{ name: 'greet', arguments: [{ name: 'who', required: true }] }] }));
    server.setRequestHandler(GetPromptRequestSchema, async (req) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello ${req.params.arguments?.who}` } }] }));
    return server;
  };
  return startStatelessMcpServer(build, { jsonResponse: true });
}

let everything: EverythingServer;
let notes: { url: string; close(): Promise<void> };
let front: AllowAllProxy;
let client: Client;
let direct: Client;

beforeAll(async () => {
  [everything, notes] = await Promise.all([startEverything(), startNotesServer()]);
  front = await startAllowAllProxy([{ name: 'everything', url: everything.url }, { name: 'notes', url: notes.url }]);
  ({ client } = await connectClient(front.proxy.url, await front.token()));
  direct = new Client({ name: 'direct', version: '1.0.0' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(everything.url)));
}, 120_000);

afterAll(async () => {
  await client?.close();
  await direct?.close();
  await front?.close();
  await Promise.all([everything?.close(), notes?.close()]);
});

const errorOf = (p: Promise<unknown>) => p.then(() => { throw new Error('expected an error'); }, (e: unknown) => e as Error);

describe('an endpoint aggregating two servers', () => {
  it('is toolgate with the servers\' capabilities merged and their instructions, each headed by its server', () => {
    expect(client.getServerVersion()).toMatchObject({ name: 'toolgate' });
    const caps = client.getServerCapabilities()!;
    expect(caps).toMatchObject({ tools: { listChanged: true }, resources: {}, prompts: {}, logging: {}, completions: {} });
    expect(caps).not.toHaveProperty('tasks');
    expect(client.getInstructions()).toContain('## Server "notes"\n\nNotes are plain text.');
    expect(client.getInstructions()).toContain(`## Server "everything"\n\n${direct.getInstructions()!.trim()}`);
  });

  it('lists both servers\' resources and routes each read to the server that listed it or whose template matches', async () => {
    const directResources = (await direct.listResources()).resources;
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await direct.listResources(cursor ? { cursor } : {});
      all.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
    } while (cursor);
    const listed = await client.listResources();
    expect(listed.nextCursor).toBeUndefined();
    expect(listed.resources.map((r) => r.uri).sort()).toEqual([...all, 'note://welcome'].sort());
    expect(await client.readResource({ uri: 'note://welcome' })).toEqual({ contents: [{ uri: 'note://welcome', text: 'welcome note' }] });
    expect(await client.readResource({ uri: directResources[0]!.uri })).toEqual(await direct.readResource({ uri: directResources[0]!.uri }));
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toContain('note://items/{id}');
    expect(await client.readResource({ uri: 'note://items/42' })).toEqual({ contents: [{ uri: 'note://items/42', text: 'item 42' }] });
    const unknown = await errorOf(client.readResource({ uri: 'nowhere://x' }));
    expect(unknown.message).toContain('unknown resource "nowhere://x"');
  });

  it('prefixes prompt names like tool names and routes prompts/get and completion by them', async () => {
    const names = (await client.listPrompts()).prompts.map((p) => p.name);
    const directNames = (await direct.listPrompts()).prompts.map((p) => p.name);
    expect(names.sort()).toEqual([...directNames.map((n) => `everything__${n}`), 'notes__greet'].sort());
    expect(await client.getPrompt({ name: 'notes__greet', arguments: { who: 'Ada' } })).toEqual({ messages: [{ role: 'user', content: { type: 'text', text: 'Hello Ada' } }] });
    const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'everything__completable-prompt' }, argument: { name: 'department', value: 'S' } });
    expect(completion).toEqual(await direct.complete({ ref: { type: 'ref/prompt', name: 'completable-prompt' }, argument: { name: 'department', value: 'S' } }));
    const unprefixed = await errorOf(client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } }));
    // The gate refuses it before the proxy would route it: the name has no <server>__ prefix.
    expect(unprefixed.message).toContain('prompt "greet" has no server prefix');
  });

  it('sends logging/setLevel to the servers that log', async () => {
    expect(await client.setLoggingLevel('error')).toEqual({});
  });
});

describe('<endpoint>/<server> on the same proxy', () => {
  it('fronts that server alone, as itself: its initialize result, its own names', async () => {
    const { client: notesClient } = await connectClient(`${front.proxy.url}/notes`, await front.token());
    try {
      expect(notesClient.getServerVersion()).toEqual({ name: 'notes', version: '1.0.0' });
      expect(notesClient.getInstructions()).toBe('Notes are plain text.');
      expect(notesClient.getServerCapabilities()).toEqual({ resources: {}, prompts: {} });
      expect((await notesClient.listPrompts()).prompts.map((p) => p.name)).toEqual(['greet']);
      expect(await notesClient.getPrompt({ name: 'greet', arguments: { who: 'Bo' } })).toEqual({ messages: [{ role: 'user', content: { type: 'text', text: 'Hello Bo' } }] });
      // A server without tools answers tools/list with its own error; so does the proxy fronting it.
      const direct = new Client({ name: 'direct', version: '1.0.0' });
      await direct.connect(new StreamableHTTPClientTransport(new URL(notes.url)));
      const directError = await errorOf(direct.listTools());
      await direct.close();
      expect(directError.message).toContain('Method not found');
      expect((await errorOf(notesClient.listTools())).message).toBe(directError.message);
    } finally {
      await notesClient.close();
    }
  });

  it('keeps a session to the path it was initialized on, and refuses a server no policy governs, naming it', async () => {
    const token = await front.token();
    const init = (id: number) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const aggregate = await rawPost(front.proxy.url, init(1), { authorization: `Bearer ${token}` });
    const session = aggregate.headers.get('mcp-session-id')!;
    expect(session).toEqual(expect.any(String));
    const elsewhere = await rawPost(`${front.proxy.url}/notes`, { jsonrpc: '2.0', id: 2, method: 'prompts/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': session });
    expect(elsewhere.status).toBe(404);
    const ungoverned = await rawPost(`${front.proxy.url}/dropbox`, init(3), { authorization: `Bearer ${token}` });
    expect(ungoverned.headers.get('mcp-session-id')).toBeNull();
    const body = await ungoverned.json() as { error: { message: string } };
    expect(body.error.message).toContain('server "dropbox" is not governed by any loaded policy (governed: everything, notes)');
  });
});

describe('listing filters (where the gate\'s visibleResources / visiblePrompts plug in)', () => {
  it('hide items from listings, fronting one server or aggregating, and a hidden resource cannot be routed to', async () => {
    const seen: string[] = [];
    const filtered = await startAllowAllProxy([{ name: 'everything', url: everything.url }, { name: 'notes', url: notes.url }], {
      listingFilters: {
        prompts: (server, items) => { seen.push(`prompts:${server}`); return items.filter((p) => p.name !== 'greet'); },
        resources: (server, items) => { seen.push(`resources:${server}`); return items.filter((r) => r.uri !== 'note://welcome'); },
      },
    });
    const { client: all } = await connectClient(filtered.proxy.url, await filtered.token());
    const { client: one } = await connectClient(`${filtered.proxy.url}/notes`, await filtered.token());
    try {
      expect((await all.listPrompts()).prompts.map((p) => p.name)).not.toContain('notes__greet');
      expect((await all.listPrompts()).prompts.map((p) => p.name)).toContain('everything__simple-prompt');
      expect((await all.listResources()).resources.map((r) => r.uri)).not.toContain('note://welcome');
      expect((await errorOf(all.readResource({ uri: 'note://welcome' }))).message).toContain('unknown resource "note://welcome"');
      expect((await one.listPrompts()).prompts).toEqual([]);
      expect((await one.listResources()).resources).toEqual([]);
      expect(seen).toEqual(expect.arrayContaining(['prompts:everything', 'prompts:notes', 'resources:notes']));
    } finally {
      await all.close();
      await one.close();
      await filtered.close();
    }
  });
});
