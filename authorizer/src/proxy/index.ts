// The MCP proxy front end (Streamable HTTP) of the authorizer.
export { startMcpProxy, supportedProtocolVersions, type McpProxy, type McpProxyOptions } from './server.ts';
export { defaultSeparator, prefixedName, splitName } from './catalog.ts';
export { createProxyMetrics, type ProxyMetrics } from './metrics.ts';
export { upstreamFailureCode } from './relay.ts';
export type { UpstreamHeaders } from './upstream.ts';
