import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../gate/jsonrpc.ts';
import { responseEventOf, responseSummaryChars } from './response.ts';

const about = { decisionId: 'd-1', server: 's', tool: 't' };

describe('responseEventOf', () => {
  it('summarises a result by its text blocks (tool content, resource contents, prompt messages)', () => {
    expect(responseEventOf(about, { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'a' }, { type: 'image', data: 'xx' }, { type: 'text', text: 'b' }] } })).toEqual({ ...about, status: 'success', summary: 'a\nb' });
    expect(responseEventOf(about, { result: { contents: [{ uri: 'x:', text: 'file' }] } }).summary).toBe('file');
    expect(responseEventOf(about, { result: { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }] } }).summary).toBe('hi');
  });

  it('an isError result and a JSON-RPC error are errors; toolgate\'s rate limit and an upstream 429 are rate-limited', () => {
    expect(responseEventOf(about, { result: { isError: true, content: [{ type: 'text', text: 'boom' }] } })).toMatchObject({ status: 'error', summary: 'boom' });
    expect(responseEventOf(about, { error: { code: -32602, message: 'bad' } })).toMatchObject({ status: 'error', errorCode: -32602, summary: 'bad' });
    expect(responseEventOf(about, { error: { code: ErrorCodes.rateLimited, message: 'slow down' } })).toMatchObject({ status: 'rate-limited', errorCode: ErrorCodes.rateLimited });
    expect(responseEventOf(about, { error: { code: -32603, message: 'x' } }, 429)).toMatchObject({ status: 'rate-limited', httpStatus: 429 });
  });

  it('an answer that is neither result nor error is an error, and a long text is cut before redaction', () => {
    expect(responseEventOf(about, 'not json')).toMatchObject({ status: 'error' });
    expect(responseEventOf(about, { result: { content: [{ type: 'text', text: 'x'.repeat(responseSummaryChars * 3) }] } }).summary).toHaveLength(responseSummaryChars);
  });
});
