// The tool catalog's lister for a governed server that speaks 2026-07-28: the v2 SDK client
// (@modelcontextprotocol/client), version pinned, lists every page of tools/list sessionlessly,
// bypassing the client's response cache (the catalog keeps its own freshness). A server that
// speaks only 2026-07-28 refuses the v1 SDK's initialize, so the default lister
// (authorizer/src/catalog/mcp-lister.ts) cannot list it and every call to it would be refused as
// "tool catalog unavailable". Requests carry the server's own credentials and nothing a caller
// sent, as the default lister's do.
import { Client, StreamableHTTPClientTransport, type FetchLike } from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import type { CatalogTool } from '../../gate/catalog.ts';
import type { CredentialHeaders, ListerFactory, ToolLister } from '../../catalog/mcp-lister.ts';
import { statelessProtocolVersions } from './classify.ts';

const clientInfo = { name: 'toolgate-catalog', version: '0.1.0' };

export function modernToolLister(o: { headers: CredentialHeaders; log: Logger }): ListerFactory {
  return (server, policy) => {
    const credentialed: FetchLike = async (url, init) => {
      let credentials: Record<string, string>;
      try {
        credentials = await o.headers(server, policy);
      } catch (err) {
        throw new Error(`credentials unavailable: ${(err as Error).message}`, { cause: err });
      }
      const headers = new Headers(credentials);
      new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
      return fetch(url, { ...init, headers, redirect: 'manual' });
    };
    let client: Client | undefined;
    const lister: ToolLister = {
      async list(signal) {
        if (!client) {
          const c = new Client(clientInfo, { versionNegotiation: { mode: { pin: statelessProtocolVersions[0]! } } });
          c.onerror = (err) => o.log.debug({ server: server.name, err: err.message }, 'tool catalog (2026-07-28) client error');
          await c.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: credentialed }), { signal });
          client = c;
        }
        try {
          const { tools } = await client.listTools(undefined, { cacheMode: 'bypass', signal });
          return tools as CatalogTool[];
        } catch (err) {
          await lister.close();
          throw err;
        }
      },
      async close() {
        const c = client;
        client = undefined;
        await c?.close().catch(() => undefined);
      },
    };
    return lister;
  };
}
