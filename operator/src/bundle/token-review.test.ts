import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { KubeError, type KubeClient } from '../../../pkg/kube/client.ts';
import { createBundleMetrics } from './metrics.ts';
import { AuthenticationUnavailableError, tokenReviewAuthenticator } from './token-review.ts';

interface Review { spec: { token: string; audiences?: string[] } }

function fakeApi(answer: (review: Review) => unknown) {
  const reviews: Review[] = [];
  const client = {
    request: async (method: string, path: string, opts: { body: Review }) => {
      expect(method).toBe('POST');
      expect(path).toBe('/apis/authentication.k8s.io/v1/tokenreviews');
      reviews.push(opts.body);
      await new Promise((r) => setTimeout(r, 5));
      return answer(opts.body);
    },
  };
  return { client: client as unknown as KubeClient, reviews };
}

const sa = { authenticated: true, user: { username: 'system:serviceaccount:agents:authorizer', uid: 'u1', groups: ['system:serviceaccounts'] } };
const answerFor = (r: Review) => ({ status: r.spec.token === 'good-token' ? sa : { authenticated: false, error: 'invalid bearer token' } });

describe('tokenReviewAuthenticator', () => {
  it('returns the service account of a valid token and caches it briefly', async () => {
    let now = 1_000_000;
    const { client, reviews } = fakeApi(answerFor);
    const metrics = createBundleMetrics(new Registry());
    const auth = tokenReviewAuthenticator({ client, cacheTtlMs: 10_000, now: () => now, metrics });
    expect(await auth('good-token')).toEqual({ username: 'system:serviceaccount:agents:authorizer', uid: 'u1', groups: ['system:serviceaccounts'] });
    expect(await auth('good-token')).toBeDefined();
    expect(reviews).toHaveLength(1);
    now += 10_001;
    expect(await auth('good-token')).toBeDefined();
    expect(reviews).toHaveLength(2);
    expect((await metrics.tokenReviews.get()).values.map((v) => [v.labels.result, v.value])).toEqual(expect.arrayContaining([['authenticated', 2], ['cached', 1]]));
  });

  it('never caches a rejection and never sends junk to the API server', async () => {
    const { client, reviews } = fakeApi(answerFor);
    const auth = tokenReviewAuthenticator({ client });
    expect(await auth('bad-token')).toBeUndefined();
    expect(await auth('bad-token')).toBeUndefined();
    expect(reviews).toHaveLength(2);
    expect(await auth('has space')).toBeUndefined();
    expect(await auth('x'.repeat(20_000))).toBeUndefined();
    expect(reviews).toHaveLength(2);
  });

  it('shares one review among concurrent requests with the same token and sends the audiences', async () => {
    const { client, reviews } = fakeApi(answerFor);
    const auth = tokenReviewAuthenticator({ client, audiences: ['toolgate-bundles'] });
    const results = await Promise.all([auth('good-token'), auth('good-token'), auth('good-token')]);
    expect(results.every((r) => r?.username === sa.user.username)).toBe(true);
    expect(reviews).toEqual([{ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'good-token', audiences: ['toolgate-bundles'] } }]);
  });

  it('does not cache past the token expiry', async () => {
    let now = 1_700_000_000_000;
    const jwt = (exp: number) => `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
    const token = jwt(now / 1000 + 2);
    const { client, reviews } = fakeApi((r) => ({ status: r.spec.token === token ? sa : { authenticated: false } }));
    const auth = tokenReviewAuthenticator({ client, cacheTtlMs: 60_000, now: () => now });
    await auth(token);
    now += 1_000;
    await auth(token);
    expect(reviews).toHaveLength(1);
    now += 1_500;
    await auth(token);
    expect(reviews).toHaveLength(2);
  });

  it('reports an unreachable API server as unavailable, without the token in the message', async () => {
    const { client } = fakeApi(() => {
      throw new KubeError(503, 'ServiceUnavailable', 'etcd is down');
    });
    const auth = tokenReviewAuthenticator({ client });
    const err = await auth('secret-token-value').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationUnavailableError);
    expect((err as Error).message).toMatch(/etcd is down/);
    expect((err as Error).message).not.toMatch(/secret-token-value/);
  });
});
