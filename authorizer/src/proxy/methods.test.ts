// logging/setLevel on an aggregating endpoint goes to exactly the servers it was decided for.
// Before, the fan-out re-read the session's logging servers at send time, so a server that
// appeared between the decision and the send (a bundle swap) got a log level nobody decided.
import { describe, expect, it } from 'vitest';
import type { PostContext, ProxyContext } from './handler.ts';
import { handleOtherRequest } from './methods.ts';
import type { ProxySession, Upstream } from './session.ts';

function upstream(name: string, calls: string[]): Upstream {
  return {
    session: {
      name,
      initializeResult: { capabilities: { logging: {} } },
      call: async (method: string) => { calls.push(`${name} ${method}`); return {}; },
    },
  } as unknown as Upstream;
}

function answerSink() {
  const out: { status?: number; body?: string } = {};
  const res = {
    headersSent: false,
    writeHead(status: number) { out.status = status; return res; },
    setHeader() { return res; },
    end(body?: string) { out.body = body; return res; },
  };
  return { res, out };
}

describe('aggregated logging/setLevel', () => {
  it('is sent to the decided servers only, and a decided server gone since is a failure, not skipped', async () => {
    const calls: string[] = [];
    const ups = new Map([['early', upstream('early', calls)], ['late', upstream('late', calls)]]);
    const session = { fronted: undefined, upstream: (n: string) => ups.get(n), upstreams: () => [...ups.values()] } as unknown as ProxySession;
    const ctx = { separator: '__', log: { warn() {}, debug() {} } } as unknown as ProxyContext;
    const req = { jsonrpc: '2.0' as const, id: 1, method: 'logging/setLevel', params: { level: 'error' } };

    const ok = answerSink();
    await handleOtherRequest(ctx, { res: ok.res, signal: new AbortController().signal } as unknown as PostContext, session, req, { servers: ['early'] });
    expect(calls).toEqual(['early logging/setLevel']);
    expect(JSON.parse(ok.out.body!)).toEqual({ jsonrpc: '2.0', id: 1, result: {} });

    calls.length = 0;
    const gone = answerSink();
    await handleOtherRequest(ctx, { res: gone.res, signal: new AbortController().signal } as unknown as PostContext, session, req, { servers: ['early', 'removed'] });
    expect(calls).toEqual(['early logging/setLevel']);
    expect(JSON.parse(gone.out.body!).error.message).toBe('logging/setLevel failed on 1 of 2 servers: removed: no longer behind this endpoint');
  });
});
