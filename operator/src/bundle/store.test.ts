import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createBundleMetrics } from './metrics.ts';
import { BundleStore } from './store.ts';

const a = { revision: 'a', archive: Buffer.from('A') };
const b = { revision: 'b', archive: Buffer.from('BB') };

describe('BundleStore', () => {
  it('keeps the latest bundle per name and reports whether the revision changed', async () => {
    const metrics = createBundleMetrics(new Registry());
    const store = new BundleStore({ metrics });
    expect(store.put('p', a)).toBe(true);
    expect(store.put('p', { revision: 'a', archive: Buffer.from('A, re-signed') })).toBe(false);
    expect(store.get('p')?.archive.toString()).toBe('A, re-signed');
    expect(store.put('p', b)).toBe(true);
    expect(store.get('p')).toMatchObject({ revision: 'b', etag: '"b"' });
    expect(store.names()).toEqual(['p']);
    expect((await metrics.bundleBytes.get()).values).toEqual([expect.objectContaining({ labels: { bundle: 'p' }, value: 2 })]);
    expect(store.delete('p')).toBe(true);
    expect((await metrics.bundleBytes.get()).values).toEqual([]);
  });

  it('refuses names and revisions that cannot be served', () => {
    const store = new BundleStore();
    expect(() => store.put('', a)).toThrow(/invalid bundle name/);
    expect(() => store.put('p\n', a)).toThrow(/invalid bundle name/);
    expect(() => store.put('p', { revision: 'has"quote', archive: Buffer.alloc(0) })).toThrow(/cannot be used as an ETag/);
    expect(() => store.put('p', { revision: '', archive: Buffer.alloc(0) })).toThrow(/cannot be used as an ETag/);
  });

  it('wakes waiters on a new revision or deletion, and releases them on timeout, abort and close', async () => {
    const store = new BundleStore();
    store.put('p', a);
    expect(await store.waitForChange('p', 'old', 1000)).toEqual({ changed: true, bundle: store.get('p') });
    const changed = store.waitForChange('p', 'a', 5000);
    store.put('p', b);
    expect(await changed).toMatchObject({ changed: true, bundle: { revision: 'b' } });
    const deleted = store.waitForChange('p', 'b', 5000);
    store.delete('p');
    expect(await deleted).toEqual({ changed: true, bundle: undefined });

    store.put('q', a);
    expect(await store.waitForChange('q', 'a', 20)).toEqual({ changed: false, reason: 'timeout' });
    const ac = new AbortController();
    const aborted = store.waitForChange('q', 'a', 5000, ac.signal);
    ac.abort();
    expect(await aborted).toEqual({ changed: false, reason: 'aborted' });
    const closed = store.waitForChange('q', 'a', 5000);
    expect(store.waiting('q')).toBe(1);
    store.close();
    expect(await closed).toEqual({ changed: false, reason: 'closed' });
    expect(store.waiting()).toBe(0);
  });
});
