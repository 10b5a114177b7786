// A stateless MCP server over Streamable HTTP on a free loopback port: a fresh official SDK v1
// Server per POST (what `build` returns), no session ids — for tests that need an upstream with
// exactly the handlers they define.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface StatelessMcpServer {
  url: string;
  close(): Promise<void>;
}

export async function startStatelessMcpServer(build: () => Server, o: { jsonResponse?: boolean } = {}): Promise<StatelessMcpServer> {
  const http = createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const server = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, ...(o.jsonResponse ? { enableJsonResponse: true } : {}) });
    res.on('close', () => { void transport.close(); void server.close(); });
    server.connect(transport).then(() => transport.handleRequest(req, res)).catch(() => res.destroy());
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: () => new Promise<void>((r) => { http.closeAllConnections(); http.close(() => r()); }),
  };
}
