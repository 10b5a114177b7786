// The release as users get it: `make release` (hack/release.ts) builds the plugin archive and the
// krew manifest; the real krew installs it from that manifest; the real kubectl finds the
// installed plugin on PATH and `kubectl mcp explain` answers from the live policy — run outside
// the checkout, with no node_modules anywhere near, so only what the archive carries is used.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { PolicyEngine } from '../../pkg/policy/engine/index.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { policyInput } from '../../authorizer/src/gate/decision-path.ts';
import { KubeClient } from '../../pkg/kube/client.ts';
import { binary } from '../harness/controlplane.ts';
import { aPolicy, controlPlane, withNamespace } from '../harness/kube.ts';
import { operatorBundles } from '../harness/operator.ts';

const run = promisify(execFile);
const repo = new URL('../../', import.meta.url).pathname;
const ns = withNamespace('krew');
let dir: string;
let release: { archive: string; sha256: string; manifest: string; bytes: number };

interface KrewManifest { spec: { version: string; platforms: Array<{ uri: string; sha256: string; bin: string; files: Array<{ from: string }> }> } }

async function buildRelease(out: string): Promise<typeof release> {
  const { stdout } = await run(process.execPath, [join(repo, 'hack/release.ts'), '--out', out], { cwd: repo, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as typeof release;
}

/** Runs krew (or what it installed) with nothing of the checkout on PATH: krew's bin, kubectl, node. */
async function inCleanShell(file: string, args: string[], krewRoot: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const path = [join(krewRoot, 'bin'), dirname(await binary('kubectl')), dirname(process.execPath), '/usr/bin', '/bin'].join(':');
  try {
    const { stdout, stderr } = await run(file, args, { cwd: dir, timeout: 60_000, env: { PATH: path, KREW_ROOT: krewRoot, HOME: dir } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolgate-release-'));
  release = await buildRelease(join(dir, 'release'));
}, 180_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('make release', () => {
  it('writes the archive\'s real sha256 into the krew manifest', async () => {
    const archive = await readFile(release.archive);
    const sha256 = createHash('sha256').update(archive).digest('hex');
    expect(release.sha256).toBe(sha256);
    const manifest = parse(await readFile(release.manifest, 'utf8')) as KrewManifest;
    const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(manifest.spec.version).toBe(`v${version}`);
    expect(manifest.spec.platforms.length).toBeGreaterThan(0);
    for (const p of manifest.spec.platforms) {
      expect(p.sha256).toBe(sha256);
      expect(p.uri.endsWith(`/v${version}/kubectl-mcp-v${version}.tar.gz`)).toBe(true);
    }
  });

  it('is reproducible: a second build has the same sha256', async () => {
    const again = await buildRelease(join(dir, 'again'));
    expect(again.sha256).toBe(release.sha256);
  }, 180_000);

  it('krew refuses the archive when the manifest\'s sha256 does not match', async () => {
    const krewRoot = join(dir, 'krew-tampered');
    const tampered = join(dir, 'tampered.yaml');
    const text = await readFile(release.manifest, 'utf8');
    const wrong = release.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await writeFile(tampered, text.replaceAll(release.sha256, wrong));
    const r = await inCleanShell(await binary('krew'), ['install', `--manifest=${tampered}`, `--archive=${release.archive}`], krewRoot);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/checksum|sha256/i);
  });
});

describe('the plugin installed by krew', () => {
  const krewRoot = () => join(dir, 'krew');
  const kc = new KubeConfig();
  kc.loadFromFile(controlPlane().adminKubeconfig);
  const admin = new KubeClient(kc);
  const policy = aPolicy('mail').inNamespace(ns).withServer('mail').withDefaultAction('deny')
    .withToolOverride({ server: 'mail', tool: 'read_email', readOnlyHint: true, verb: 'get' })
    .withPolicy({ name: 'allow-read', priority: 10, when: { readOnlyHint: true }, action: 'allow' }).build();

  beforeAll(async () => {
    const r = await inCleanShell(await binary('krew'), ['install', `--manifest=${release.manifest}`, `--archive=${release.archive}`], krewRoot());
    expect(r, r.stderr).toMatchObject({ code: 0 });
    await admin.create({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns }, policy);
  }, 120_000);

  it('runs as `kubectl mcp` and answers explain from the live policy with the policy.wasm it ships', async () => {
    const kubeconfig = controlPlane().adminKubeconfig;
    const r = await inCleanShell(await binary('kubectl'), ['mcp', 'explain', '--policy', 'mail', '-n', ns, '--server', 'mail', '--tool', 'read_email', '--args', '{}', '-o', 'json', `--kubeconfig=${kubeconfig}`], krewRoot());
    expect(r.code, r.stderr).toBe(0);
    const decision = JSON.parse(r.stdout) as Record<string, unknown>;
    const engine = new PolicyEngine();
    await engine.load(operatorBundles().policyWasm, compilePolicy(policy, new Map()).data);
    const expected = engine.evaluate(policyInput({ server: 'mail', tool: 'read_email', arguments: {}, caller: { subject: '', issuer: '', roles: [], scopes: [] }, frontEnd: 'proxy' }));
    expect(expected.action).toBe('allow');
    expect(decision).toEqual(expected);

    const denied = await inCleanShell(await binary('kubectl'), ['mcp', 'explain', '--policy', 'mail', '-n', ns, '--server', 'mail', '--tool', 'send_email', '--args', '{}', '-o', 'json', `--kubeconfig=${kubeconfig}`], krewRoot());
    expect(denied.code, denied.stderr).toBe(0);
    expect(JSON.parse(denied.stdout)).toMatchObject({ action: 'deny', rule: 'toolgate:default' });
  });
});
