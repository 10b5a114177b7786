// Real MCP servers, built with the official SDK, for tests that need upstreams listing given
// tools with given annotations: one HTTP listener, one stateless Streamable HTTP MCP server per
// path /<server>/mcp. Each lists exactly the tools it is given and answers every call with a
// text naming the server and tool, recording what reached it.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

export interface ListedTool {
  name: string;
  annotations?: Record<string, unknown>;
}

export interface McpUpstreams {
  url(server: string): string;
  /** Every tools/call that reached a server. */
  calls: Array<{ server: string; name: string; arguments: unknown }>;
  close(): Promise<void>;
}

export async function startMcpUpstreams(tools: Readonly<Record<string, readonly ListedTool[]>>): Promise<McpUpstreams> {
  const calls: McpUpstreams['calls'] = [];

  function serverFor(name: string, listed: readonly ListedTool[]): Server {
    const server = new Server({ name: `upstream-${name}`, version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: listed.map((t) => ({ name: t.name, inputSchema: { type: 'object' as const }, ...(t.annotations ? { annotations: t.annotations } : {}) })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (req) => {
      calls.push({ server: name, name: req.params.name, arguments: req.params.arguments });
      return { content: [{ type: 'text', text: `called ${name}/${req.params.name}` }] };
    });
    return server;
  }

  const http: HttpServer = createServer((req, res) => {
    const m = /^\/([a-z0-9-]+)\/mcp$/.exec((req.url ?? '').split('?')[0]!);
    const listed = m ? tools[m[1]!] : undefined;
    if (!m || !listed) return void res.writeHead(404).end();
    // Stateless: no session, no server-to-client stream.
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const server = serverFor(m[1]!, listed);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    server.connect(transport).then(() => transport.handleRequest(req, res)).catch(() => res.destroy());
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: (server) => `http://127.0.0.1:${port}/${server}/mcp`,
    calls,
    close: () => new Promise<void>((r) => {
      http.closeAllConnections();
      http.close(() => r());
    }),
  };
}
