// The reporter's write scheduling, with a recording stand-in for the API server (the Lease
// itself is exercised against a real kube-apiserver in test/integration/authorizer-bundles).
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../pkg/kube/client.ts';
import { leaseName, RevisionReporter, revisionsValue } from './reporter.ts';

interface Applied { metadata: { annotations: Record<string, string> }; spec: { renewTime: string } }

function recorder() {
  const applied: Applied[] = [];
  const deleted: string[] = [];
  let holdNext = false;
  let release: (() => void) | undefined;
  const client = {
    apply: async (_ref: unknown, body: Applied) => {
      applied.push(body);
      if (!holdNext) return;
      holdNext = false;
      await new Promise<void>((r) => (release = r));
    },
    delete: (ref: { name: string }) => {
      deleted.push(ref.name);
      return Promise.resolve();
    },
  };
  return { client: client as unknown as KubeClient, applied, deleted, hold: () => (holdNext = true), release: () => release?.() };
}

const annotation = (a: Applied | undefined) => a?.metadata.annotations['toolgate.io/bundle-revisions'];

describe('RevisionReporter', () => {
  it('writes on start, on a changed revision, and skips an unchanged one', async () => {
    const r = recorder();
    const reporter = new RevisionReporter({ client: r.client, namespace: 'toolgate-system', podName: 'authz-1', renewIntervalMs: 60_000 });
    await reporter.start();
    expect(r.applied.map(annotation)).toEqual(['{}']);
    reporter.update({ 'b/y': '2', 'a/x': '1' });
    await reporter.flush();
    reporter.update({ 'a/x': '1', 'b/y': '2' });
    await reporter.flush();
    await reporter.stop();
    expect(r.applied.map(annotation)).toEqual(['{}', '{"a/x":"1","b/y":"2"}']);
    expect(r.deleted).toEqual(['toolgate-authorizer-authz-1']);
  });

  it('folds updates made during a write into one follow-up with the latest revisions', async () => {
    const r = recorder();
    const reporter = new RevisionReporter({ client: r.client, namespace: 'ns', podName: 'p', renewIntervalMs: 60_000 });
    r.hold();
    const started = reporter.start();
    while (r.applied.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    // The first write is in flight now.
    for (let i = 1; i <= 5; i++) reporter.update({ 'a/x': String(i) });
    r.release();
    await started;
    await reporter.flush();
    await reporter.stop();
    expect(r.applied.map(annotation)).toEqual(['{}', '{"a/x":"5"}']);
  });

  it('renews with a new renewTime even when nothing else changed', async () => {
    const r = recorder();
    const reporter = new RevisionReporter({ client: r.client, namespace: 'ns', podName: 'p', renewIntervalMs: 20 });
    await reporter.start();
    while (r.applied.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    await reporter.stop();
    expect(new Set(r.applied.map(annotation))).toEqual(new Set(['{}']));
    expect(r.applied[2]!.spec.renewTime > r.applied[0]!.spec.renewTime).toBe(true);
  });
});

describe('lease names and values', () => {
  it('prefixes the pod name and keeps long names valid', () => {
    expect(leaseName('authz-7d9f-abc')).toBe('toolgate-authorizer-authz-7d9f-abc');
    const long = leaseName('p'.repeat(253));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^toolgate-authorizer-p+-[0-9a-f]{10}$/);
    expect(leaseName('q'.repeat(253))).not.toBe(long);
  });

  it('serialises revisions canonically', () => {
    expect(revisionsValue({ 'z/a': 'r2', 'a/z': 'r1' })).toBe('{"a/z":"r1","z/a":"r2"}');
  });
});
