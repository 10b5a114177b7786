// MCP 2026-07-28 reserves -32020..-32099 for codes the specification defines: an implementation
// MUST NOT emit any other code from it, and uses the defined ones only with their meaning. The
// codes 2025-11-25 gave meanings to (-32042 URL elicitation required) stay reserved too.
import { describe, expect, it } from 'vitest';
import { ErrorCodes, mcpSpecErrorCodes } from './jsonrpc.ts';

const reserved = (code: number) => code <= -32020 && code >= -32099;

describe('toolgate error codes', () => {
  it('sit outside the range MCP reserves, except the spec\'s own codes under the spec\'s names', () => {
    const inRange = Object.entries(ErrorCodes).filter(([, code]) => reserved(code));
    expect(Object.fromEntries(inRange)).toEqual(mcpSpecErrorCodes);
    expect(mcpSpecErrorCodes).toEqual({ headerMismatch: -32020, missingRequiredClientCapability: -32021, unsupportedProtocolVersion: -32022 });
  });

  it('never reuse the retired 2025-11-25 codes (-32002 resource not found, -32042 URL elicitation required), and give each meaning its own code', () => {
    const codes = Object.values(ErrorCodes);
    expect(codes).not.toContain(-32042);
    expect(codes).not.toContain(-32002);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(Number.isInteger(code)).toBe(true);
  });
});

describe("toolgate's own codes", () => {
  it('sit outside the JSON-RPC reserved range (-32768..-32000), where MCP asks new codes to go', () => {
    const spec = new Set<number>([-32700, -32600, -32601, -32602, -32603, -32000, ...Object.values(mcpSpecErrorCodes)]);
    const own = Object.entries(ErrorCodes).filter(([, code]) => !spec.has(code));
    expect(own.length).toBeGreaterThan(5);
    for (const [name, code] of own) expect(code > -32000 || code < -32768, `${name} ${code}`).toBe(true);
  });
});

