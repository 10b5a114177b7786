// Approvals as 2025-11-25 MCP tasks: the official v1 SDK client declares tasks and asks for a
// held tools/call to run as one; the proxy answers with the task at once, its status follows the
// ApprovalRequest in the real API server (approvers decide with the real `kubectl mcp` code, the
// real operator computes the phase), and tasks/result gives the real upstream's
// (server-everything, behind a recorder) answer — or the denial. Hold mode stays for clients
// that do not ask for a task.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { isProxyTaskId } from '../../authorizer/src/proxy/tasks/store.ts';
import { waitFor, withNamespace } from '../harness/kube.ts';
import { phaseIs, requestFor, startReplica, type Replica } from './approvals-e2e-support.ts';
import { startApprovalRig, type ApprovalRig } from './approvals-e2e-rig.ts';
import { connectClient, rawPost } from './proxy-support.ts';

const ns = withNamespace('approvals-tasks');
const taskCaps = { tasks: { list: {}, cancel: {} } };
let rig: ApprovalRig;
let replica: Replica;

beforeAll(async () => {
  rig = await startApprovalRig(ns);
  replica = await startReplica({ pod: 'authorizer-t', kubeConfig: rig.ids.authorizer, policy: rig.policy });
}, 180_000);

afterAll(async () => {
  await replica?.close();
  await rig?.close();
});

async function withClient<T>(token: string, fn: (c: Client) => Promise<T>, capabilities: Record<string, unknown> = taskCaps): Promise<T> {
  const { client } = await connectClient(replica.proxy.url, token, capabilities);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const createTask = (client: Client, args: Record<string, unknown>) =>
  client.request({ method: 'tools/call', params: { name: 'echo', arguments: args, task: { ttl: 600_000 } } }, CreateTaskResultSchema, { timeout: 30_000 });

const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as McpError);

describe('held calls as tasks (2025-11-25)', () => {
  it('answers with a working task naming the approvers and the command; approved, it completes with the upstream result, once', async () => {
    await withClient(await rig.token(), async (client) => {
      const args = { message: `task ${randomUUID()}` };
      const created = await createTask(client, args);
      const pending = await requestFor(ns, 'echo', args);
      const { task } = created;
      expect(isProxyTaskId(task.taskId)).toBe(true);
      expect(task.status).toBe('working');
      expect(task.ttl).toBe(600_000);
      expect(task.statusMessage).toContain(`kubectl mcp approve ${pending.metadata.name} -n ${ns}`);
      expect(task.statusMessage).toContain('sre');

      const polled = await client.experimental.tasks.getTask(task.taskId);
      expect(polled).toMatchObject({ taskId: task.taskId, status: 'working' });
      expect((await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(task.taskId);
      expect(rig.upstreamCalls('echo', args)).toBe(0);

      expect((await rig.ann.decide('approve', pending, 'fine')).code).toBe(0);
      await waitFor(async () => (await client.experimental.tasks.getTask(task.taskId)).status === 'completed', { description: 'the task completed' });
      const result = await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
      expect(result.content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
      expect(result._meta?.['io.modelcontextprotocol/related-task']).toEqual({ taskId: task.taskId });
      // tasks/result again gives the same answer; the call itself ran once.
      expect((await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)).content).toEqual(result.content);
      expect(rig.upstreamCalls('echo', args)).toBe(1);
      expect((await requestFor(ns, 'echo', args, phaseIs('Consumed'))).status?.consumedBy).toBe('authorizer-t');
      // A completed task cannot be cancelled (-32602).
      expect((await errorOf(client.experimental.tasks.cancelTask(task.taskId)))?.code).toBe(ErrorCodes.invalidParams);
    });
  });

  it('a denial fails the task and tasks/result gives the denial; the upstream never sees the call', async () => {
    await withClient(await rig.token(), async (client) => {
      const args = { message: `deny task ${randomUUID()}` };
      // The SDK's own task flow: create, poll, then the outcome.
      const seen: string[] = [];
      const stream = (async () => {
        for await (const m of client.experimental.tasks.callToolStream({ name: 'echo', arguments: args }, CallToolResultSchema, { task: { ttl: 600_000 }, timeout: 60_000 })) {
          seen.push(m.type === 'taskStatus' || m.type === 'taskCreated' ? `${m.type}:${m.task.status}` : m.type);
          if (m.type === 'taskCreated') seen.push(`id:${m.task.taskId}`);
        }
      })();
      const pending = await requestFor(ns, 'echo', args);
      expect((await rig.bob.decide('deny', pending, 'not today')).code).toBe(0);
      await stream;
      expect(seen[0]).toBe('taskCreated:working');
      expect(seen).toContain('taskStatus:failed');
      expect(seen.at(-1)).toBe('error');
      const taskId = seen.find((s) => s.startsWith('id:'))!.slice(3);
      const task = await client.experimental.tasks.getTask(taskId);
      expect(task.status).toBe('failed');
      expect(task.statusMessage).toContain('bob ("not today")');
      const err = await errorOf(client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema));
      expect(err).toBeInstanceOf(McpError);
      expect(err!.code).toBe(ErrorCodes.approvalDenied);
      expect(err!.data).toMatchObject({ approval: { namespace: ns, name: pending.metadata.name }, deniedBy: [{ user: 'bob', reason: 'not today' }] });
      expect(rig.upstreamCalls('echo', args)).toBe(0);
    });
  });

  it("another caller presenting the id is told it does not exist, exactly as for an unknown id", async () => {
    await withClient(await rig.token(), async (client) => {
      const args = { message: `mine ${randomUUID()}` };
      const { task } = await createTask(client, args);
      const mallory = await rig.issuer.mint({ sub: 'mallory', azp: 'agent-2' });
      await withClient(mallory, async (other) => {
        const stolen = await errorOf(other.experimental.tasks.getTask(task.taskId));
        const unknownId = `${task.taskId.slice(0, -4)}AAAA`;
        const unknown = await errorOf(other.experimental.tasks.getTask(unknownId));
        expect(stolen?.code).toBe(ErrorCodes.invalidParams);
        expect(stolen?.message.replace(task.taskId, 'ID')).toBe(unknown?.message.replace(unknownId, 'ID'));
        expect((await errorOf(other.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)))?.code).toBe(ErrorCodes.invalidParams);
        expect((await errorOf(other.experimental.tasks.cancelTask(task.taskId)))?.code).toBe(ErrorCodes.invalidParams);
        expect((await other.experimental.tasks.listTasks()).tasks).toEqual([]);
      });
      // The owner's task is untouched by all that, and cancelling it stops the wait.
      expect((await client.experimental.tasks.getTask(task.taskId)).status).toBe('working');
      const cancelled = await client.experimental.tasks.cancelTask(task.taskId);
      expect(cancelled.status).toBe('cancelled');
      expect((await client.experimental.tasks.getTask(task.taskId)).status).toBe('cancelled');
      await waitFor(async () => (await replica.waiting()) === 0, { description: 'the cancelled task no longer waits' });
      expect(rig.upstreamCalls('echo', args)).toBe(0);
    });
  });

  // server-everything runs tasks itself: the call, params.task included, goes to it as before
  // (its echo tool refuses task augmentation, and that answer is relayed).
  it('a client that does not declare tasks gets no proxy task: the held call goes upstream as before once approved', async () => {
    const token = await rig.token();
    const { client, transport } = await connectClient(replica.proxy.url, token, {});
    try {
      const args = { message: `no caps ${randomUUID()}` };
      const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
      const call = rawPost(replica.proxy.url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: args, task: {} } }, headers).then((r) => r.text());
      const pending = await requestFor(ns, 'echo', args);
      expect((await rig.ann.decide('approve', pending, 'ok')).code).toBe(0);
      const answer = await call;
      expect(answer).toContain('"id":7');
      expect(answer).not.toContain('toolgate-task-');
      expect(rig.upstreamCalls('echo', args)).toBe(1);
    } finally {
      await client.close();
    }
  });
  it('tells a client that declared tasks that tools/call runs as a task; one that did not sees the server as it is', async () => {
    await withClient(await rig.token(), async (client) => {
      expect(client.getServerCapabilities()?.tasks).toMatchObject({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
      const { tools } = await client.listTools();
      expect(tools.find((t) => t.name === 'echo')?.execution?.taskSupport).toBe('optional');
    });
    await withClient(await rig.token(), async (client) => {
      const { tools } = await client.listTools();
      expect(tools.find((t) => t.name === 'echo')).toBeDefined();
      expect(tools.find((t) => t.name === 'echo')?.execution?.taskSupport).toBe('forbidden'); // server-everything's own value
    }, {});
  });

  it("the SDK's own flow (listTools, then callToolStream with no task option) runs allowed and held calls as proxy tasks", async () => {
    await withClient(await rig.token(), async (client) => {
      await client.listTools();
      const kinds = async (stream: AsyncIterable<{ type: string; task?: { taskId: string } }>) => {
        const out: { type: string; taskId?: string; result?: unknown }[] = [];
        for await (const m of stream) out.push({ type: m.type, ...(m.task ? { taskId: m.task.taskId } : {}), ...('result' in m ? { result: m.result } : {}) });
        return out;
      };
      // Allowed by policy (read-only): a proxy task that runs upstream at once.
      const before = rig.recorder.calls.filter((c) => c.name === 'get-env').length;
      const allowed = await kinds(client.experimental.tasks.callToolStream({ name: 'get-env', arguments: {} }, CallToolResultSchema));
      expect(allowed[0]?.type).toBe('taskCreated');
      expect(isProxyTaskId(allowed[0]?.taskId)).toBe(true);
      expect(allowed.at(-1)?.type).toBe('result');
      expect((allowed.at(-1)?.result as { content: unknown[] }).content.length).toBeGreaterThan(0);
      expect(rig.recorder.calls.filter((c) => c.name === 'get-env').length).toBe(before + 1);

      // Held: the task waits for the approval, then completes with the upstream's answer.
      const args = { message: `sdk flow ${randomUUID()}` };
      const held = kinds(client.experimental.tasks.callToolStream({ name: 'echo', arguments: args }, CallToolResultSchema, { timeout: 60_000 }));
      const pending = await requestFor(ns, 'echo', args);
      expect((await rig.cat.decide('approve', pending, 'wrong group')).code).not.toBe(0);
      expect((await rig.ann.decide('approve', pending, 'ok')).code).toBe(0);
      const seen = await held;
      expect(seen[0]?.type).toBe('taskCreated');
      expect((seen.at(-1)?.result as { content: unknown[] }).content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
      expect(rig.upstreamCalls('echo', args)).toBe(1);
    });
  });
  it('expiry fails the task with the expiry; the upstream never sees the call', async () => {
    await withClient(await rig.token(), async (client) => {
      const args = { messageType: 'success', includeImage: false, note: randomUUID() };
      const { task } = await client.request({ method: 'tools/call', params: { name: 'get-annotated-message', arguments: args, task: {} } }, CreateTaskResultSchema, { timeout: 30_000 });
      await requestFor(ns, 'get-annotated-message', args, phaseIs('Expired'));
      // tasks/result blocks until the task ends.
      const err = await errorOf(client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema, { timeout: 60_000 }));
      expect(err?.code).toBe(ErrorCodes.approvalExpired);
      expect((await client.experimental.tasks.getTask(task.taskId)).status).toBe('failed');
      expect(rig.upstreamCalls('get-annotated-message', args)).toBe(0);
    });
  });

  it('retry mode stays for clients without tasks; a client with tasks gets a task there too', async () => {
    const retry = await startReplica({ pod: 'authorizer-r', kubeConfig: rig.ids.authorizer, policy: rig.policy, mode: 'retry' });
    try {
      const token = await rig.token();
      const plain = await connectClient(retry.proxy.url, token, {});
      try {
        const err = await errorOf(plain.client.callTool({ name: 'echo', arguments: { message: `retry ${randomUUID()}` } }));
        expect(err?.code).toBe(ErrorCodes.approvalRequired);
      } finally {
        await plain.client.close();
      }
      const tasked = await connectClient(retry.proxy.url, token, taskCaps);
      try {
        const args = { message: `retry task ${randomUUID()}` };
        const { task } = await tasked.client.request({ method: 'tools/call', params: { name: 'echo', arguments: args, task: {} } }, CreateTaskResultSchema, { timeout: 30_000 });
        expect(task.status).toBe('working');
        const pending = await requestFor(ns, 'echo', args);
        expect((await rig.ann.decide('approve', pending, 'ok')).code).toBe(0);
        const result = await tasked.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema, { timeout: 60_000 });
        expect(result.content).toEqual([{ type: 'text', text: `Echo: ${args.message}` }]);
        expect(rig.upstreamCalls('echo', args)).toBe(1);
      } finally {
        await tasked.client.close();
      }
    } finally {
      await retry.close();
    }
  });
});
