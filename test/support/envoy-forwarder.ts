// What Envoy does after ext_authz answers: on OK it forwards the client's request, original bytes
// and all, to the upstream (with the headers the CheckResponse adds, without those it removes);
// on a denial it never does. A loopback stand-in for tests that must show what reaches the
// upstream through the ext_authz front end, with one MCP session opened at the upstream first.
import type { CheckResponse } from '../../authorizer/src/extauthz/response.ts';

export interface EnvoyForwarder {
  /** Forwards `body` when `res` allowed it; answers the upstream's HTTP status, or undefined when denied. */
  forward(res: CheckResponse, body: string | Uint8Array): Promise<number | undefined>;
}

export async function startEnvoyForwarder(upstreamUrl: string): Promise<EnvoyForwarder> {
  const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(upstreamUrl, { method: 'POST', headers: base, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'envoy-forwarder', version: '1' } } }) });
  const session = init.headers.get('mcp-session-id');
  await init.arrayBuffer();
  const headers: Record<string, string> = { ...base, ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}) };
  await (await fetch(upstreamUrl, { method: 'POST', headers, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).arrayBuffer();
  return {
    async forward(res, body) {
      if (res.status.code !== 0 || !res.ok_response) return undefined;
      const added = Object.fromEntries((res.ok_response.headers ?? []).map((h) => [h.header.key, h.header.value]));
      const r = await fetch(upstreamUrl, { method: 'POST', headers: { ...headers, ...added }, body: typeof body === 'string' ? body : Buffer.from(body) });
      await r.arrayBuffer();
      return r.status;
    },
  };
}
