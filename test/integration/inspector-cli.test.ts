// Issue 11, "Done when": @modelcontextprotocol/inspector-cli operations give identical results
// against the reference server directly and through toolgate (allow-all policy, real gate and
// proxy). The same command line both ways but for the URL; the inspector sends the agent's bearer
// token itself (the reference server ignores it). Results are compared as parsed JSON: with a
// policy that allows everything there must be no difference at all, not even a _meta.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer, type ReferenceServer } from '../fixtures/conformance/everything-server.ts';
import { resultOf, runInspector } from '../support/conformance/inspector.ts';
import { startToolgateInFront, type ToolgateInFront } from '../support/conformance/toolgate.ts';

let reference: ReferenceServer;
let toolgate: ToolgateInFront;
let headers: Record<string, string>;

beforeAll(async () => {
  reference = await startReferenceServer();
  toolgate = await startToolgateInFront(reference.url);
  headers = { Authorization: `Bearer ${await toolgate.token()}` };
});

afterAll(async () => {
  await toolgate?.close();
  await reference?.close();
});

/** Each operation with the key its result must carry directly, so a broken harness cannot pass by comparing two failures. */
const operations: Array<{ op: string[]; key: string }> = [
  { op: ['--method', 'tools/list'], key: 'tools' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_simple_text'], key: 'content' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_image_content'], key: 'content' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_audio_content'], key: 'content' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_embedded_resource'], key: 'content' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_multiple_content_types'], key: 'content' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_error_handling'], key: 'isError' },
  { op: ['--method', 'tools/call', '--tool-name', 'test_tool_with_logging'], key: 'content' },
  { op: ['--method', 'tools/call', '--tool-name', 'json_schema_2020_12_tool', '--tool-arg', 'name=Ada'], key: 'content' },
  { op: ['--method', 'resources/list'], key: 'resources' },
  { op: ['--method', 'resources/templates/list'], key: 'resourceTemplates' },
  { op: ['--method', 'resources/read', '--uri', 'test://static-text'], key: 'contents' },
  { op: ['--method', 'resources/read', '--uri', 'test://static-binary'], key: 'contents' },
  { op: ['--method', 'resources/read', '--uri', 'test://template/42/data'], key: 'contents' },
  { op: ['--method', 'prompts/list'], key: 'prompts' },
  { op: ['--method', 'prompts/get', '--prompt-name', 'test_simple_prompt'], key: 'messages' },
  { op: ['--method', 'prompts/get', '--prompt-name', 'test_prompt_with_arguments', '--prompt-args', 'arg1=hello', 'arg2=world'], key: 'messages' },
  { op: ['--method', 'prompts/get', '--prompt-name', 'test_prompt_with_embedded_resource', '--prompt-args', 'resourceUri=test://static-text'], key: 'messages' },
  { op: ['--method', 'prompts/get', '--prompt-name', 'test_prompt_with_image'], key: 'messages' },
];

describe('inspector-cli directly and through toolgate', () => {
  it.each(operations.map((o) => ({ ...o, name: [o.op[1], o.op[3]].filter(Boolean).join(' ') })))('$name gives the same result both ways', async ({ op, key }) => {
    const [direct, through] = await Promise.all([runInspector(reference.url, op, headers), runInspector(toolgate.proxyUrl, op, headers)]);
    expect(direct.code, direct.stderr).toBe(0);
    expect(resultOf(direct)).toHaveProperty(key);
    expect(resultOf(through)).toEqual(resultOf(direct));
  });

  it('logging/setLevel answers {} both ways', async () => {
    const op = ['--method', 'logging/setLevel', '--log-level', 'debug'];
    const [direct, through] = await Promise.all([runInspector(reference.url, op, headers), runInspector(toolgate.proxyUrl, op, headers)]);
    expect(resultOf(direct)).toEqual({});
    expect(resultOf(through)).toEqual({});
  });
});
