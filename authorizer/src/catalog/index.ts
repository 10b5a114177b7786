// The authorizer's tool catalog: what every governed server lists, learned by the authorizer
// itself, for the gate of both front ends.
export { UpstreamToolCatalog, type UpstreamCatalogOptions } from './upstream-catalog.ts';
export { mcpToolLister, maxPages, type CredentialHeaders, type ListerFactory, type ToolLister } from './mcp-lister.ts';
export { eitherEraLister } from './either-era-lister.ts';
