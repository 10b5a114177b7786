// Lists one governed server's tools the way an MCP client does, with the official SDK client
// over Streamable HTTP: initialize, notifications/initialized, every tools/list page. The
// requests carry the server's own credentials (the same headers the proxy sends upstream) and
// nothing a caller sent. The session stays open so notifications/tools/list_changed on its GET
// stream marks the list stale; a failed listing drops it and the next one starts afresh.
//
// Servers register some tools only for clients that can serve them (sampling, roots,
// elicitation, tasks), so this session declares those capabilities: the catalog must know every
// tool any client may call. It never calls a tool, so the server never needs them; were it to ask,
// it is told there are no roots and that sampling and elicitation are refused.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ErrorCode, ListRootsRequestSchema, ListToolsResultSchema, McpError, ToolListChangedNotificationSchema, type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { CatalogTool } from '../gate/catalog.ts';
import type { GatewayConfig, GatewayServer } from '../gate/types.ts';

/** Credential headers for a governed server, from its policy's credentials reference. */
export type CredentialHeaders = (server: GatewayServer, policy: GatewayConfig['policy']) => Promise<Record<string, string>>;

export interface ToolLister {
  /** Every tool the server lists now, all pages. Rejects with what went wrong. */
  list(signal: AbortSignal): Promise<CatalogTool[]>;
  close(): Promise<void>;
}

/** Makes the lister of one server; `changed` is called when the server says its list changed. */
export type ListerFactory = (server: GatewayServer, policy: GatewayConfig['policy'], changed: () => void) => ToolLister;

/** Upper bound on pages per listing: a server that keeps returning cursors is cut off. */
export const maxPages = 100;

const clientInfo = { name: 'toolgate-catalog', version: '0.1.0' };
/** Every client capability a server may make a tool depend on. */
const capabilities: ClientCapabilities = {
  roots: { listChanged: true },
  sampling: {},
  elicitation: { form: {}, url: {} },
  tasks: { requests: { sampling: { createMessage: {} }, elicitation: { create: {} } } },
} as ClientCapabilities;

export function mcpToolLister(o: { headers: CredentialHeaders; log: Logger }): ListerFactory {
  return (server, policy, changed) => new McpToolLister(server, policy, changed, o);
}

class McpToolLister implements ToolLister {
  readonly #server: GatewayServer;
  readonly #policy: GatewayConfig['policy'];
  readonly #changed: () => void;
  readonly #o: { headers: CredentialHeaders; log: Logger };
  #client: Client | undefined;

  constructor(server: GatewayServer, policy: GatewayConfig['policy'], changed: () => void, o: { headers: CredentialHeaders; log: Logger }) {
    this.#server = server;
    this.#policy = policy;
    this.#changed = changed;
    this.#o = o;
  }

  async list(signal: AbortSignal): Promise<CatalogTool[]> {
    const client = this.#client ?? await this.#connect(signal);
    try {
      const tools: CatalogTool[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await client.request({ method: 'tools/list', params: cursor !== undefined ? { cursor } : {} }, ListToolsResultSchema, { signal });
        tools.push(...(page.tools as CatalogTool[]));
        cursor = page.nextCursor || undefined;
        if (++pages >= maxPages && cursor !== undefined) throw new Error(`more than ${maxPages} tools/list pages`);
      } while (cursor !== undefined);
      return tools;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async #connect(signal: AbortSignal): Promise<Client> {
    const client = new Client(clientInfo, { capabilities });
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.#changed());
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [] }));
    const refuse = async (): Promise<never> => {
      throw new McpError(ErrorCode.InvalidRequest, 'this is toolgate\'s tool-catalog session: it serves no sampling or elicitation');
    };
    client.setRequestHandler(CreateMessageRequestSchema, refuse);
    client.setRequestHandler(ElicitRequestSchema, refuse);
    client.onerror = (err) => this.#o.log.debug({ server: this.#server.name, err: err.message }, 'tool catalog session error');
    client.onclose = () => {
      if (this.#client === client) this.#client = undefined;
    };
    const transport = new StreamableHTTPClientTransport(new URL(this.#server.url), { fetch: this.#fetch, reconnectionOptions: { maxRetries: 2, initialReconnectionDelay: 1000, maxReconnectionDelay: 30_000, reconnectionDelayGrowFactor: 2 } });
    await client.connect(transport, { signal });
    this.#client = client;
    return client;
  }

  /** The server's credentials on every request; protocol headers the SDK sets win over a misnamed credential. */
  readonly #fetch: FetchLike = async (url, init) => {
    let credentials: Record<string, string>;
    try {
      credentials = await this.#o.headers(this.#server, this.#policy);
    } catch (err) {
      // Provider messages name the source, never the value.
      throw new Error(`credentials unavailable: ${(err as Error).message}`, { cause: err });
    }
    const headers = new Headers(credentials);
    new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
    return fetch(url, { ...init, headers, redirect: 'manual' });
  };
}
