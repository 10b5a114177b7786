import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestFromFlags } from './explain-input.ts';

const bodyFile = (body: unknown) => {
  const f = join(mkdtempSync(join(tmpdir(), 'explain-input-')), 'body.json');
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
};

describe('explain input', () => {
  it('builds the tools/call a front end would receive from flags, with a caller from the flags', () => {
    const r = requestFromFlags({ args: '{"a":1}', server: 's', tool: 't', role: ['r', 'r'], agent: 'bot', operator: 'ann' }, 'explain');
    expect(r).toEqual({
      message: { kind: 'request', message: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { a: 1 } } } },
      naming: { server: 's' }, target: { server: 's', tool: 't' },
      caller: { subject: 'ann', issuer: '', agent: 'bot', operator: 'ann', roles: ['r'], scopes: [] },
    });
    expect(requestFromFlags({ server: 's', tool: 't', annotations: '{"readOnlyHint":true}' }, 'explain').annotations).toEqual({ readOnlyHint: true });
  });

  it('splits the proxy name of a JSON-RPC body, or takes --server', () => {
    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'gmail__send_email', arguments: {} } };
    expect(requestFromFlags({ body: bodyFile(call) }, 'explain')).toMatchObject({ naming: { separator: '__' }, target: { server: 'gmail', tool: 'send_email' } });
    expect(requestFromFlags({ body: bodyFile(call), server: 'mail' }, 'explain')).toMatchObject({ naming: { server: 'mail' }, target: { server: 'mail', tool: 'gmail__send_email' } });
    // A name the gate will refuse is still handed to it: no target, the gate says why.
    const bad = requestFromFlags({ body: bodyFile({ ...call, params: { name: 5 } }) }, 'explain');
    expect(bad.target).toBeUndefined();
    expect(bad.message).toMatchObject({ kind: 'request', message: { params: { name: 5 } } });
  });

  it('refuses what the front ends cannot parse, and what is not a tools/call request', () => {
    expect(() => requestFromFlags({ body: bodyFile('{"jsonrpc":"2.0","id":1,') }, 'explain')).toThrow(/--body: body is not JSON.*\(JSON-RPC error -32700\)/);
    expect(() => requestFromFlags({ body: bodyFile([1]) }, 'explain')).toThrow(/batches.*-32600/);
    expect(() => requestFromFlags({ body: bodyFile({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) }, 'explain')).toThrow(/--body is a "tools\/list" request; only tools\/call and resources\/read, .* requests are decided by policy/);
  });

  it('accepts the other methods the policy decides, with the server from --server', () => {
    const r = requestFromFlags({ server: 'gmail', body: bodyFile({ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'mail://inbox/1' } }) }, 'explain');
    expect(r).toMatchObject({ naming: { server: 'gmail' }, message: { kind: 'request', message: { method: 'resources/read', params: { uri: 'mail://inbox/1' } } } });
    expect(r.target).toBeUndefined();
  });

  it('refuses contradictory or missing flags as usage errors', () => {
    expect(() => requestFromFlags({ server: 's', tool: 't', args: '[1]' }, 'explain')).toThrow(/must be a JSON object/);
    expect(() => requestFromFlags({ server: 's' }, 'explain')).toThrow(/--tool is required/);
    expect(() => requestFromFlags({ body: '-', tool: 't' }, 'explain')).toThrow(/cannot be combined with --body/);
  });
});
