import { describe, expect, it } from 'vitest';
import { ErrorCodes, parseJsonRpc, type JsonRpcRequest } from '../../gate/jsonrpc.ts';
import type { Refusal } from '../../gate/outcome.ts';
import { approvalInputAction, approvalInputKey, approvalInputRequired, declaresUrlElicitation, defaultApprovalUrl, withoutApprovalInput } from '../../gate/approval-input.ts';
import { isStatelessRequest, modernVersionOf } from './classify.ts';

const request = (params: Record<string, unknown>): JsonRpcRequest => {
  const m = parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params }));
  if (m.kind !== 'request') throw new Error('not a request');
  return m.message;
};
const meta = (caps: unknown) => ({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': caps });

describe('which POSTs take the 2026-07-28 path', () => {
  it('is the body\'s _meta version first, the header only when it names 2026-07-28', () => {
    const modern = parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta({}) } }));
    const legacy = parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(modernVersionOf({}, modern)).toBe('2026-07-28');
    expect(isStatelessRequest({ 'mcp-protocol-version': '2025-11-25' }, legacy)).toBe(false);
    expect(isStatelessRequest({ 'mcp-protocol-version': '2026-07-28' }, legacy)).toBe(true);
    // An unknown version in the body is still this path's (it answers UnsupportedProtocolVersion).
    const future = parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } }));
    expect(modernVersionOf({}, future)).toBe('2099-01-01');
    const numeric = parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': 20260728 } } }));
    expect(modernVersionOf({}, numeric)).toEqual({ invalid: 20260728 });
  });
});

describe('held calls as MRTR input requests', () => {
  const pending: Refusal = {
    stage: 'approval', httpStatus: 200, id: 1,
    error: { code: ErrorCodes.approvalRequired, message: 'approval required by rule "x" (approvers: sre)', data: { approval: { namespace: 'ns', name: 'ar-1' }, phase: 'Pending', approve: 'kubectl mcp approve ar-1 -n ns' } },
  };

  it('asks a client that declares URL elicitation, naming the command, and no other', () => {
    const ask = approvalInputRequired(pending, request({ name: 't', _meta: meta({ elicitation: { url: {} } }) }), defaultApprovalUrl);
    expect(ask).toMatchObject({
      resultType: 'input_required', requestState: 'toolgate-approval:v1:ns/ar-1',
      inputRequests: { [approvalInputKey]: { method: 'elicitation/create', params: { mode: 'url', url: 'urn:toolgate:approvalrequest:ns:ar-1' } } },
    });
    expect(JSON.stringify(ask)).toContain('kubectl mcp approve ar-1 -n ns');
    expect(approvalInputRequired(pending, request({ name: 't', _meta: meta({ elicitation: {} }) }), defaultApprovalUrl)).toBeUndefined();
    expect(approvalInputRequired(pending, request({ name: 't' }), defaultApprovalUrl)).toBeUndefined();
    expect(declaresUrlElicitation(request({ name: 't', _meta: meta({ elicitation: { url: true } }) }))).toBe(false);
  });

  it('asks only for a pending approval: a denial or an outage stays an error', () => {
    const r = request({ name: 't', _meta: meta({ elicitation: { url: {} } }) });
    expect(approvalInputRequired({ ...pending, error: { ...pending.error, code: ErrorCodes.approvalDenied } }, r, defaultApprovalUrl)).toBeUndefined();
    expect(approvalInputRequired({ ...pending, error: { ...pending.error, data: { ...pending.error.data as object, phase: 'Expired' } } }, r, defaultApprovalUrl)).toBeUndefined();
  });

  it('removes only toolgate\'s own requestState and input response before the call goes upstream', () => {
    const mine = request({ name: 't', arguments: { a: 1 }, requestState: 'toolgate-approval:v1:ns/ar-1', inputResponses: { [approvalInputKey]: { action: 'accept' } } });
    expect(approvalInputAction(mine)).toBe('accept');
    expect(withoutApprovalInput(mine).params).toEqual({ name: 't', arguments: mine.params!.arguments });
    const theirs = request({ name: 't', requestState: 'upstream-state', inputResponses: { [approvalInputKey]: { action: 'accept' }, login: { action: 'accept', content: { name: 'x' } } } });
    expect(withoutApprovalInput(theirs).params).toEqual({ name: 't', requestState: 'upstream-state', inputResponses: { login: { action: 'accept', content: { name: 'x' } } } });
  });
});
