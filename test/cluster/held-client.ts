// An agent that waits for a held call the way a careful one must: the official SDK client calls
// one tool (hold mode keeps the answer's SSE stream open while people decide); when the stream
// breaks — the authorizer pod holding it was killed — it opens a fresh session through the
// Service and sends the identical call again, which finds the same ApprovalRequest by its
// digest. Prints one JSON document: the answer or the refusal, and every attempt's end.
//   node test/cluster/held-client.ts URL TOKEN '{"name":"publish_note","arguments":{...}}' [MAX_ATTEMPTS]
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const [url, token, callJson, maxArg] = process.argv.slice(2);
if (!url || !token || !callJson) throw new Error('usage: held-client.ts URL TOKEN CALL_JSON [MAX_ATTEMPTS]');
const call = JSON.parse(callJson) as { name: string; arguments: Record<string, unknown> };
const maxAttempts = Number(maxArg ?? 10);

interface Attempt { ended: 'answered' | 'refused' | 'transport'; detail: string }
const attempts: Attempt[] = [];

async function attempt(): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> {
  const abort = new AbortController();
  const transport = new StreamableHTTPClientTransport(new URL(url!), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  // A broken stream leaves the SDK's request pending (it tries to resume it elsewhere, where the
  // session does not exist): the transport's error is the signal to give up on this attempt.
  transport.onerror = (err) => abort.abort(err);
  const client = new Client({ name: 'toolgate-cluster-held-agent', version: '1.0.0' });
  try {
    await client.connect(transport);
    // Progress arrives every keep-alive while held; silence that long means the stream is gone.
    const result = await client.callTool(call, undefined, { signal: abort.signal, onprogress: () => undefined, timeout: 45_000, resetTimeoutOnProgress: true, maxTotalTimeout: 600_000 });
    attempts.push({ ended: 'answered', detail: JSON.stringify(result.content) });
    return { result };
  } catch (err) {
    if (err instanceof McpError && !abort.signal.aborted && err.code !== -32001) {
      attempts.push({ ended: 'refused', detail: `${err.code} ${err.message}` });
      return { error: { code: err.code, message: err.message, data: err.data } };
    }
    attempts.push({ ended: 'transport', detail: String(abort.signal.aborted ? abort.signal.reason : err) });
    return {};
  } finally {
    await client.close().catch(() => undefined);
  }
}

let outcome: Awaited<ReturnType<typeof attempt>> = {};
while (attempts.length < maxAttempts) {
  outcome = await attempt();
  if (outcome.result || outcome.error) break;
  await new Promise((r) => setTimeout(r, 1000));
}
console.log(JSON.stringify({ ...outcome, attempts }));
