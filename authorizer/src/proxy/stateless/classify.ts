// Which POSTs take the 2026-07-28 (sessionless) path. Per the 2026-07-28 versioning rules, a
// request is "modern" when its body carries a per-request protocol version in `_meta`, or its
// MCP-Protocol-Version header names a modern version; everything else (initialize, requests of
// a ≤ 2025-11-25 session) stays on the session path. An Mcp-Session-Id header on a modern request
// is ignored, as the spec says, so a client cannot pull a modern request into a legacy session.
import type { JsonRpcMessage } from '../../gate/jsonrpc.ts';
import { modernProtocolVersions, protocolVersionMetaKey, type HeaderValues } from '../../gate/mcp-headers.ts';

/** The versions the sessionless path speaks. */
export const statelessProtocolVersions: readonly string[] = modernProtocolVersions;

/** The version a modern request declares (body first, then header), or undefined for the session path. */
export function modernVersionOf(headers: HeaderValues, msg: JsonRpcMessage): string | undefined | { invalid: unknown } {
  if (msg.kind !== 'response') {
    const meta = msg.message.params?._meta;
    if (meta !== null && typeof meta === 'object' && !Array.isArray(meta) && Object.hasOwn(meta, protocolVersionMetaKey)) {
      const v = (meta as Record<string, unknown>)[protocolVersionMetaKey];
      return typeof v === 'string' ? v : { invalid: v };
    }
  }
  const h = headers['mcp-protocol-version'];
  const v = typeof h === 'string' ? h : h?.length === 1 ? h[0] : undefined;
  return v !== undefined && modernProtocolVersions.includes(v) ? v : undefined;
}

/** Whether a POSTed message is a 2026-07-28-era request (the sessionless path answers it). */
export function isStatelessRequest(headers: HeaderValues, msg: JsonRpcMessage): boolean {
  return modernVersionOf(headers, msg) !== undefined;
}
