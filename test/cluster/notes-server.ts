// A small real MCP server for the cluster test, run as a pod from the toolgate image (mounted
// from a ConfigMap under /app so it resolves the image's @modelcontextprotocol/sdk): stateless
// Streamable HTTP on :8080/mcp with a read-only, a destructive and a held (publish) tool, and — so the
// authorizer has a token issuer inside the cluster — the test's public JWKS on /jwks.
//
// The SDK's low-level Server with raw JSON Schemas: no zod import to resolve from the image.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const jwks = readFileSync(process.env.JWKS_FILE ?? '/app/notes-server/jwks.json', 'utf8');
const notes = new Map([['welcome', 'toolgate runs on a real node']]);
const tools = [
  {
    name: 'read_note', description: 'Read a note by name.',
    inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    annotations: { readOnlyHint: true, destructiveHint: false },
  },
  {
    name: 'delete_note', description: 'Delete a note by name.',
    inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    annotations: { readOnlyHint: false, destructiveHint: true },
  },
  {
    name: 'publish_note', description: 'Publish a note to everyone.',
    inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    annotations: { readOnlyHint: false, destructiveHint: false },
  },
];

function mcpServer(): Server {
  const server = new Server({ name: 'toolgate-cluster-notes', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const name = String(req.params.arguments?.name ?? '');
    if (req.params.name === 'read_note') return { content: [{ type: 'text', text: notes.get(name) ?? `no note ${name}` }] };
    if (req.params.name === 'delete_note') {
      notes.delete(name);
      // Visible in `kubectl logs`: the test checks a denied call never got here.
      console.log(JSON.stringify({ msg: 'deleted', name }));
      return { content: [{ type: 'text', text: `deleted ${name}` }] };
    }
    if (req.params.name === 'publish_note') {
      // One line per call that reached the server: the test counts them (exactly once per approval).
      console.log(JSON.stringify({ msg: 'published', name }));
      return { content: [{ type: 'text', text: `published ${name}` }] };
    }
    throw new Error(`unknown tool ${req.params.name}`);
  });
  return server;
}

createServer((req, res) => {
  if (req.url === '/jwks') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    return;
  }
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.url !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void server.close(); });
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown : undefined;
    server.connect(transport).then(() => transport.handleRequest(req, res, body)).catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
}).listen(8080, '0.0.0.0', () => console.log(JSON.stringify({ msg: 'notes MCP server listening', port: 8080 })));
