// The MCP proxy with real peers: the official SDK client talks through the proxy to two real
// "everything" servers (npm) under a policy compiled by the operator's compiler into the real
// wasm; callers carry JWTs from the test issuer, verified by the identity module.
import { McpError, CallToolResultSchema, ListResourcesResultSchema, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { connectClient, fullCapabilities, startRig, type Rig } from './proxy-support.ts';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

async function callError(p: Promise<unknown>): Promise<McpError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}

describe('MCP proxy with the SDK client and real upstream servers', () => {
  it('initializes one session with its own server info, id, the client\'s protocol version and the servers\' capabilities merged', async () => {
    const direct = new Client({ name: 'direct', version: '1.0.0' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(rig.everything.url)));
    const upstream = direct.getServerCapabilities()!;
    await direct.close();
    const { client, transport } = await connectClient(rig.proxy.url, await rig.token());
    try {
      expect(client.getServerVersion()).toMatchObject({ name: 'toolgate' });
      // Both servers are the same program: the merge is its capabilities, those the proxy can route across servers.
      expect(upstream.resources).toBeDefined();
      const { tasks: _tasks, experimental: _experimental, ...routable } = upstream;
      expect(client.getServerCapabilities()).toEqual({ ...routable, tools: { listChanged: true } });
      expect(transport.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(transport.protocolVersion).toBe('2025-11-25');
    } finally {
      await client.close();
    }
  });

  it('lists the tools of both servers, prefixed, without the ones the caller may never call', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const { tools, nextCursor } = await client.listTools();
      expect(nextCursor).toBeUndefined();
      const names = tools.map((t) => t.name);
      for (const server of ['everything', 'mirror']) {
        expect(names).toContain(`${server}__echo`);
        expect(names).toContain(`${server}__trigger-long-running-operation`);
        // get-env dumps the environment: labelled data:secret by the profile, denied, so hidden.
        expect(names).not.toContain(`${server}__get-env`);
        // Not read-only and no rule allows it: denied by default, and no argument can change that.
        expect(names).not.toContain(`${server}__toggle-simulated-logging`);
      }
      // Held for approval is not a deny: the caller may still ask for it.
      expect(names).toContain('everything__get-tiny-image');
      // mirror__get-sum needs a scope alice's token lacks.
      expect(names).toContain('everything__get-sum');
      expect(names).not.toContain('mirror__get-sum');
      // The upstream's own definition is passed on (schema, annotations) under the new name.
      const longRunning = tools.find((t) => t.name === 'everything__trigger-long-running-operation')!;
      expect(longRunning.annotations).toMatchObject({ readOnlyHint: true });
      expect(longRunning.inputSchema.properties).toHaveProperty('duration');
    } finally {
      await client.close();
    }
  });

  it('relays an allowed call to the right server and returns its real result', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const r1 = await client.callTool({ name: 'everything__echo', arguments: { message: 'hello through toolgate' } });
      expect(r1.content).toEqual([{ type: 'text', text: 'Echo: hello through toolgate' }]);
      const r2 = await client.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 40 } });
      expect(JSON.stringify(r2.content)).toContain('42');
      const before = rig.tap.seen.length;
      const r3 = await client.callTool({ name: 'mirror__echo', arguments: { message: 'via the mirror' } });
      expect(r3.content).toEqual([{ type: 'text', text: 'Echo: via the mirror' }]);
      expect(rig.tap.seen.length).toBeGreaterThan(before);
    } finally {
      await client.close();
    }
  });

  it('denies a call with a stable JSON-RPC code and a message naming the rule', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const e = await callError(client.callTool({ name: 'everything__get-env', arguments: {} }));
      expect(e.code).toBe(ErrorCodes.policyDenied);
      expect(e.message).toContain('denied by rule "no-secrets"');
      expect(e.data).toMatchObject({ rule: 'no-secrets', revision: 'rev-1' });
      // The argument classifier of the profile: an AWS key in an echo is a secret too.
      const e2 = await callError(client.callTool({ name: 'mirror__echo', arguments: { message: 'key AKIAABCDEFGHIJKLMNOP' } }));
      expect(e2.code).toBe(ErrorCodes.policyDenied);
      expect(e2.data).toMatchObject({ rule: 'no-secrets' });
    } finally {
      await client.close();
    }
  });

  it('answers require_approval with the rule, the approver groups and the quorum', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const e = await callError(client.callTool({ name: 'everything__get-tiny-image', arguments: {} }));
      expect(e.code).toBe(ErrorCodes.approvalRequired);
      expect(e.message).toContain('approval required by rule "images-need-approval"');
      expect(e.data).toMatchObject({ rule: 'images-need-approval', approvers: ['security', 'sre'], quorum: 1 });
    } finally {
      await client.close();
    }
  });

  it('refuses unknown methods and unprefixed or unknown-server tool names', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      // resources/* are decided by policy now (issue 11); a method MCP does not define is refused.
      const e = await callError(client.request({ method: 'resources/delete', params: {} }, ListResourcesResultSchema));
      expect(e.code).toBe(ErrorCodes.methodNotFound);
      expect(e.message).toContain('method "resources/delete" is not allowed');
      const e2 = await callError(client.callTool({ name: 'echo', arguments: { message: 'x' } }));
      expect(e2.code).toBe(ErrorCodes.invalidParams);
      expect(e2.message).toContain('no server prefix');
      const e3 = await callError(client.callTool({ name: 'nowhere__echo', arguments: { message: 'x' } }));
      expect(e3.code).toBe(ErrorCodes.policyDenied);
      expect(e3.data).toMatchObject({ rule: 'toolgate:unknown-server' });
      await expect(client.ping()).resolves.toEqual({});
    } finally {
      await client.close();
    }
  });

  it('streams progress notifications of a long-running tool over SSE', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token());
    try {
      const progress: Array<{ progress: number; total?: number }> = [];
      const r = await client.callTool(
        { name: 'mirror__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
        CallToolResultSchema,
        { onprogress: (p) => progress.push({ progress: p.progress, ...(p.total !== undefined ? { total: p.total } : {}) }) },
      );
      expect(progress).toEqual([{ progress: 1, total: 3 }, { progress: 2, total: 3 }, { progress: 3, total: 3 }]);
      expect(r.content).toEqual([{ type: 'text', text: 'Long running operation completed. Duration: 0.3 seconds, Steps: 3.' }]);
    } finally {
      await client.close();
    }
  });

  it('relays a server\'s sampling request to the client and the client\'s answer back', async () => {
    const { client } = await connectClient(rig.proxy.url, await rig.token(), fullCapabilities);
    const seenIds: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => {
      seenIds.push(extra.requestId);
      return { model: 'test-model', role: 'assistant', content: { type: 'text', text: `sampled: ${JSON.stringify(req.params.messages[0]?.content)}` } };
    });
    try {
      // Registered by the server only for clients with sampling, after notifications/initialized.
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('everything__trigger-sampling-request');
      expect(names).toContain('mirror__trigger-sampling-request');
      const [a, b] = await Promise.all([
        client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'first', maxTokens: 10 } }),
        client.callTool({ name: 'mirror__trigger-sampling-request', arguments: { prompt: 'second', maxTokens: 10 } }),
      ]);
      expect(JSON.stringify(a.content)).toContain('sampled:');
      expect(JSON.stringify(a.content)).toContain('first');
      expect(JSON.stringify(b.content)).toContain('second');
      // Both servers number their requests from 0; the client sees ids unique to the session.
      expect(seenIds).toHaveLength(2);
      expect(new Set(seenIds).size).toBe(2);
      expect(seenIds.map(String).sort()).toEqual([expect.stringMatching(/^everything:/), expect.stringMatching(/^mirror:/)]);
    } finally {
      await client.close();
    }
  });

  it('never sends the client\'s token upstream, and adds the server\'s own credentials', async () => {
    const token = await rig.token();
    const { client } = await connectClient(rig.proxy.url, token);
    try {
      const from = rig.tap.seen.length;
      await client.callTool({ name: 'mirror__echo', arguments: { message: 'creds' } });
      const sent = rig.tap.seen.slice(from);
      expect(sent.length).toBeGreaterThan(0);
      for (const h of sent) {
        expect(h.authorization).toBe('Bearer upstream-credential-for-mirror');
        expect(JSON.stringify(h)).not.toContain(token);
      }
    } finally {
      await client.close();
    }
  });

  it('ends the session on DELETE, and the upstream sessions with it', async () => {
    const token = await rig.token();
    const { client, transport } = await connectClient(rig.proxy.url, token);
    await client.listTools();
    const sessionId = transport.sessionId!;
    const sessionsBefore = rig.proxy.sessionCount();
    const from = rig.tap.seen.length;
    await transport.terminateSession();
    expect(rig.proxy.sessionCount()).toBe(sessionsBefore - 1);
    expect(rig.tap.seen.slice(from).some((h) => typeof h['mcp-session-id'] === 'string')).toBe(true);
    const res = await fetch(rig.proxy.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('session not found');
    await client.close();
  });
});
