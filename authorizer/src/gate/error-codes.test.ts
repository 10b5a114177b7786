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

  it('never reuse the retired 2025-11-25 URL-elicitation code, and give each meaning its own code', () => {
    const codes = Object.values(ErrorCodes);
    expect(codes).not.toContain(-32042);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(Number.isInteger(code)).toBe(true);
  });
});
