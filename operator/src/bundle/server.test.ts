import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createBundleMetrics, type BundleMetrics } from './metrics.ts';
import { etagMatches, parsePrefer, startBundleServer, type BundleServer } from './server.ts';
import { BundleStore } from './store.ts';
import { AuthenticationUnavailableError, type Authenticator } from './token-review.ts';

const tokens: Record<string, string> = {
  'puller-token': 'system:serviceaccount:agents:authorizer',
  'other-sa-token': 'system:serviceaccount:other:default',
  'human-token': 'alice@example.com',
};
const authenticate: Authenticator = (token) => {
  if (token === 'flaky-token') return Promise.reject(new AuthenticationUnavailableError('TokenReview failed: connection refused'));
  const username = tokens[token];
  return Promise.resolve(username ? { username, groups: [] } : undefined);
};

let store: BundleStore;
let server: BundleServer;
let metrics: BundleMetrics;
const auth = { authorization: 'Bearer puller-token' };
const v1 = { revision: 'rev-1', archive: Buffer.from('archive one') };
const v2 = { revision: 'rev-2', archive: Buffer.from('archive two') };

beforeEach(async () => {
  metrics = createBundleMetrics(new Registry());
  store = new BundleStore({ metrics });
  store.put('default/mcp', v1);
  server = await startBundleServer({ store, authenticate, metrics, port: 0, host: '127.0.0.1', allow: ['system:serviceaccount:agents:*'] });
});

afterEach(async () => {
  await server.close();
});

async function get(path: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, { headers, ...(signal ? { signal } : {}) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started };
}

async function counter(metric: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> }, label: string, value: string): Promise<number> {
  return (await metric.get()).values.find((v) => v.labels[label] === value)?.value ?? 0;
}

describe('bundle server: authentication', () => {
  it('answers 401 with a JSON reason when the token is missing or invalid, never echoing it', async () => {
    const missing = await get('/bundles/default/mcp');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="toolgate-bundles"');
    expect(JSON.parse(missing.body.toString())).toEqual({ code: 'unauthorized', message: expect.stringMatching(/service-account token is required/) });
    const wrongScheme = await get('/bundles/default/mcp', { authorization: 'Basic cHVsbGVyLXRva2Vu' });
    expect(wrongScheme.status).toBe(401);
    const invalid = await get('/bundles/default/mcp', { authorization: 'Bearer not-a-real-token-xyz' });
    expect(invalid.status).toBe(401);
    expect(invalid.body.toString()).toMatch(/rejected by the Kubernetes API server/);
    expect(invalid.body.toString()).not.toContain('not-a-real-token-xyz');
    expect(await counter(metrics.requests, 'code', '401')).toBe(3);
  });

  it('answers 403 to users that are not service accounts or not on the allow-list', async () => {
    const human = await get('/bundles/default/mcp', { authorization: 'Bearer human-token' });
    expect(human.status).toBe(403);
    expect(JSON.parse(human.body.toString()).message).toBe('alice@example.com may not pull bundles');
    expect((await get('/bundles/default/mcp', { authorization: 'Bearer other-sa-token' })).status).toBe(403);
  });

  it('answers 503 when tokens cannot be checked', async () => {
    const res = await get('/bundles/default/mcp', { authorization: 'Bearer flaky-token' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
  });
});

describe('bundle server: serving', () => {
  it('serves the latest bundle with its revision as ETag', async () => {
    const res = await get('/bundles/default/mcp', auth);
    expect(res.status).toBe(200);
    expect(res.body.equals(v1.archive)).toBe(true);
    expect(res.headers.get('etag')).toBe('"rev-1"');
    expect(res.headers.get('content-type')).toBe('application/gzip');
    // A client speaking the bundle protocol is told long polling is supported.
    const opa = await get('/bundles/default/mcp', { ...auth, prefer: 'modes=snapshot,delta' });
    expect(opa.headers.get('content-type')).toBe('application/vnd.openpolicyagent.bundles');
    expect((await metrics.servedBytes.get()).values[0]?.value).toBe(2 * v1.archive.length);
  });

  it('answers 304 to a client that has the current revision, 200 to one that does not', async () => {
    expect((await get('/bundles/default/mcp', { ...auth, 'if-none-match': '"rev-1"' })).status).toBe(304);
    const stale = await get('/bundles/default/mcp', { ...auth, 'if-none-match': '"rev-0"' });
    expect(stale.status).toBe(200);
    store.put('default/mcp', v2);
    const after = await get('/bundles/default/mcp', { ...auth, 'if-none-match': '"rev-1"' });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).toBe('"rev-2"');
    expect(after.body.equals(v2.archive)).toBe(true);
  });

  it('answers HEAD without a body, 404 for unknown bundles and paths, 405 for other methods', async () => {
    expect((await get('/bundles/nope', auth)).status).toBe(404);
    expect((await get('/other', auth)).status).toBe(404);
    const head = await fetch(`${server.url}/bundles/default/mcp`, { method: 'HEAD', headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(v1.archive.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const post = await fetch(`${server.url}/bundles/default/mcp`, { method: 'POST', headers: auth });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('bundle server: long polling', () => {
  const poll = (wait: number, etag = '"rev-1"') => ({ ...auth, prefer: `modes=snapshot,delta;wait=${wait}`, 'if-none-match': etag });

  it('holds the request until a new revision arrives, then sends it', async () => {
    const pending = get('/bundles/default/mcp', poll(10));
    await waitUntil(() => store.waiting('default/mcp') === 1);
    expect(await metrics.longPollsWaiting.get()).toMatchObject({ values: [{ value: 1 }] });
    store.put('default/mcp', v1); // same revision: not a change, keeps waiting
    await new Promise((r) => setTimeout(r, 50));
    expect(store.waiting('default/mcp')).toBe(1);
    store.put('default/mcp', v2);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"rev-2"');
    expect(res.headers.get('content-type')).toBe('application/vnd.openpolicyagent.bundles');
    expect(res.body.equals(v2.archive)).toBe(true);
    expect(res.ms).toBeLessThan(5_000);
    expect(await counter(metrics.longPolls, 'outcome', 'changed')).toBe(1);
  });

  it('answers 304 when the wait passes without a change', async () => {
    const res = await get('/bundles/default/mcp', poll(1));
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe('"rev-1"');
    expect(res.ms).toBeGreaterThanOrEqual(950);
    expect(await counter(metrics.longPolls, 'outcome', 'timeout')).toBe(1);
  });

  it('answers at once when the client is behind, and never waits without If-None-Match', async () => {
    const stale = await get('/bundles/default/mcp', poll(10, '"rev-0"'));
    expect(stale.status).toBe(200);
    expect(stale.ms).toBeLessThan(1_000);
    const fresh = await get('/bundles/default/mcp', { ...auth, prefer: 'modes=snapshot;wait=10' });
    expect(fresh.status).toBe(200);
    expect(fresh.ms).toBeLessThan(1_000);
  });

  it('forgets clients that leave, and answers held polls with 304 on shutdown', async () => {
    const ac = new AbortController();
    const gone = get('/bundles/default/mcp', poll(30), ac.signal).catch((e: unknown) => e);
    await waitUntil(() => store.waiting('default/mcp') === 1);
    ac.abort();
    await gone;
    await waitUntil(() => store.waiting('default/mcp') === 0);
    expect(await counter(metrics.longPolls, 'outcome', 'aborted')).toBe(1);

    const held = get('/bundles/default/mcp', poll(30));
    await waitUntil(() => store.waiting('default/mcp') === 1);
    const started = performance.now();
    await server.close();
    expect((await held).status).toBe(304);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('caps the wait at maxWaitSeconds', async () => {
    await server.close();
    server = await startBundleServer({ store, authenticate, port: 0, host: '127.0.0.1', maxWaitSeconds: 1 });
    const res = await get('/bundles/default/mcp', poll(600));
    expect(res.status).toBe(304);
    expect(res.ms).toBeLessThan(3_000);
  });
});

describe('header parsing', () => {
  it('reads wait from the Prefer forms OPA and others send', () => {
    expect(parsePrefer('modes=snapshot,delta;wait=30')).toEqual({ present: true, waitSeconds: 30 });
    expect(parsePrefer('wait=5, modes=snapshot')).toEqual({ present: true, waitSeconds: 5 });
    expect(parsePrefer('modes=snapshot,delta')).toEqual({ present: true, waitSeconds: 0 });
    expect(parsePrefer('modes=snapshot;wait=-1')).toEqual({ present: true, waitSeconds: 0 });
    expect(parsePrefer(undefined)).toEqual({ present: false, waitSeconds: 0 });
  });

  it('compares If-None-Match weakly and accepts lists and *', () => {
    expect(etagMatches('"a"', '"a"')).toBe(true);
    expect(etagMatches('W/"a"', '"a"')).toBe(true);
    expect(etagMatches('"b", "a"', '"a"')).toBe(true);
    expect(etagMatches('*', '"a"')).toBe(true);
    expect(etagMatches('a', '"a"')).toBe(false);
    expect(etagMatches(undefined, '"a"')).toBe(false);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
