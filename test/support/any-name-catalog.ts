// A tool catalog that lists whatever name it is asked about, without annotations: for tests of
// the decision path, approvals or audit that run without an upstream to list tools. The gate
// refuses every tools/call without a catalog (only listed tools are decided); such tests give it
// this one so their calls reach the decision they are about. Never used by shipped code.
import type { CatalogLookup, ToolCatalog } from '../../authorizer/src/gate/catalog.ts';

export const anyNameCatalog: ToolCatalog = {
  lookup: async (_server: string, tool: string): Promise<CatalogLookup> => ({ kind: 'listed', tool: { name: tool } }),
};
