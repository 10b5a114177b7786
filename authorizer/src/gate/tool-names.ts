// How a tools/call names its tool. Behind Envoy the route names the governed server and
// params.name is the server's own tool name. Behind the MCP proxy every governed server shares
// one endpoint, so tools are named `<server><separator><tool>` (default separator `__`). Server
// names are DNS labels ([a-z0-9-]), so a separator with any other character splits
// unambiguously at its first occurrence: `github__create_issue` is tool `create_issue` of
// server `github`.

export const defaultSeparator = '__';

/** Where the governed server of a tools/call comes from. */
export type ToolNaming =
  /** ext_authz: the Envoy route names the server; params.name is the upstream's tool name. */
  | { server: string }
  /** MCP proxy: params.name is `<server><separator><tool>`. */
  | { separator: string };

/** Whether a separator can never occur inside a server name (a DNS label). */
export function validSeparator(sep: string): boolean {
  return sep.length > 0 && sep.length <= 8 && /[^a-z0-9-]/.test(sep) && !/\s/.test(sep);
}

export function prefixedName(server: string, tool: string, sep: string): string {
  return `${server}${sep}${tool}`;
}

export function splitName(name: string, sep: string): { server: string; tool: string } | undefined {
  const i = name.indexOf(sep);
  if (i <= 0 || i + sep.length >= name.length) return undefined;
  return { server: name.slice(0, i), tool: name.slice(i + sep.length) };
}

/** The governed server and the upstream tool name a tools/call's params.name stands for. */
export function resolveToolName(name: string, naming: ToolNaming): { server: string; tool: string } | { error: string } {
  if ('server' in naming) return { server: naming.server, tool: name };
  return splitName(name, naming.separator)
    ?? { error: `tool "${name}" has no server prefix: tools behind this proxy are named <server>${naming.separator}<tool>` };
}
