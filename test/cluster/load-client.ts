// Steady load for the `helm upgrade` scenario: the official SDK client sends an allowed call
// every INTERVAL_MS until the file STOP exists, keeping its session while it works. A session
// lives in one authorizer pod; when that pod goes away (404 for the session, a refused or reset
// connection) the client opens a new session and sends the same call again: a clean reconnect.
// A call counts as failed only when its decision failed: a JSON-RPC refusal, a wrong answer, or
// no answer after RECONNECT_BUDGET fresh sessions. Prints one JSON document of counts.
//   node test/cluster/load-client.ts URL TOKEN STOP_FILE INTERVAL_MS EXPECTED_TEXT
import { existsSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const [url, token, stopFile, intervalArg, expected] = process.argv.slice(2);
if (!url || !token || !stopFile || !intervalArg || expected === undefined) throw new Error('usage: load-client.ts URL TOKEN STOP_FILE INTERVAL_MS EXPECTED_TEXT');
const intervalMs = Number(intervalArg);
const reconnectBudget = 5;

const counts = { attempted: 0, succeeded: 0, failed: 0, reconnects: 0 };
const failures: string[] = [];
const transportErrors: Record<string, number> = {};
let client: Client | undefined;

async function connect(): Promise<Client> {
  const c = new Client({ name: 'toolgate-cluster-load', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url!), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return c;
}

async function oneCall(n: number): Promise<void> {
  counts.attempted++;
  for (let tries = 0; tries <= reconnectBudget; tries++) {
    try {
      client ??= await connect();
      const r = await client.callTool({ name: 'read_note', arguments: { name: 'welcome' } }, undefined, { timeout: 30_000 });
      const text = (r.content as Array<{ text?: string }>)[0]?.text;
      if (text === expected && !r.isError) counts.succeeded++;
      else { counts.failed++; failures.push(`call ${n}: wrong answer ${JSON.stringify(r.content)}`); }
      return;
    } catch (err) {
      // A JSON-RPC error is the gate's (or the server's) answer: a failed decision, not transport.
      if (err instanceof McpError) {
        counts.failed++;
        failures.push(`call ${n}: ${err.code} ${err.message}`);
        return;
      }
      const kind = String((err as Error).cause ?? (err as Error).message).slice(0, 120);
      transportErrors[kind] = (transportErrors[kind] ?? 0) + 1;
      await client?.close().catch(() => undefined);
      client = undefined;
      counts.reconnects++;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  counts.failed++;
  failures.push(`call ${n}: no answer after ${reconnectBudget} fresh sessions`);
}

for (let n = 0; !existsSync(stopFile); n++) {
  const started = Date.now();
  await oneCall(n);
  await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
}
await client?.close().catch(() => undefined);
console.log(JSON.stringify({ ...counts, failures: failures.slice(0, 20), transportErrors }));
