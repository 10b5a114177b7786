// The agent of the cluster test: the official MCP SDK client, run inside the cluster's network
// namespace (`ip netns exec`), where the authorizer's Service address is reachable. Prints one
// JSON document: the tools it was shown and the outcome of each call.
//   node test/cluster/mcp-client.ts URL TOKEN '[{"name":"read_note","arguments":{...}}]'
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const [url, token, callsJson] = process.argv.slice(2);
if (!url || !token || !callsJson) throw new Error('usage: mcp-client.ts URL TOKEN CALLS_JSON');
const calls = JSON.parse(callsJson) as Array<{ name: string; arguments: Record<string, unknown> }>;

const client = new Client({ name: 'toolgate-cluster-test', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
const tools = (await client.listTools()).tools.map((t) => t.name);
const outcomes = [];
for (const call of calls) {
  try {
    outcomes.push({ name: call.name, ok: true, result: await client.callTool(call) });
  } catch (err) {
    if (!(err instanceof McpError)) throw err;
    outcomes.push({ name: call.name, ok: false, error: { code: err.code, message: err.message, data: err.data } });
  }
}
await client.close();
console.log(JSON.stringify({ tools, outcomes }));
