import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, bundleRevision, openBundle, readBundleFiles, type BuildBundleInput } from './bundle.ts';
import { gunzipLimited, gzipDeterministic, readTar, writeTar } from './tar.ts';
import { compileWasm, runOpa, tempDir } from '../../test/support/bundle.ts';

const rego = `package toolgate.test

default allow := false

allow if input.tool in data.toolgate.tools
`;

let wasm: Buffer;
beforeAll(async () => {
  wasm = await compileWasm(rego, ['toolgate/test/allow']);
}, 60_000);

function input(overrides: Partial<BuildBundleInput> = {}): BuildBundleInput {
  return {
    data: { toolgate: { tools: ['read_file', 'list_dir'], limits: { recipients: 50 } } },
    wasm,
    entrypoints: ['toolgate/test/allow'],
    roots: ['toolgate'],
    ...overrides,
  };
}

describe('buildBundle', () => {
  it('is byte-identical for the same inputs, whatever the key order', async () => {
    const a = await buildBundle(input());
    const b = await buildBundle(input({ data: { toolgate: { limits: { recipients: 50 }, tools: ['read_file', 'list_dir'] } } }));
    expect(b.archive.equals(a.archive)).toBe(true);
    expect(b.revision).toBe(a.revision);
    // A fixed gzip header: no mtime, no name, OS "unknown".
    expect([...a.archive.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
  });

  it('writes the manifest, data and wasm OPA expects, in sorted order with fixed metadata', async () => {
    const b = await buildBundle(input({ metadata: { policy: 'default/mcp' } }));
    const entries = readTar(gunzipLimited(b.archive, 1 << 26));
    expect(entries.map((e) => e.name)).toEqual(['/.manifest', '/data.json', '/policy.wasm']);
    const files = readBundleFiles(b.archive);
    expect(JSON.parse(files.get('.manifest')?.toString() ?? '')).toEqual({
      revision: b.revision,
      roots: ['toolgate'],
      wasm: [{ entrypoint: 'toolgate/test/allow', module: '/policy.wasm' }],
      metadata: { policy: 'default/mcp' },
    });
    expect(files.get('.manifest')?.toString()).toBe(`{"metadata":{"policy":"default/mcp"},"revision":"${b.revision}","roots":["toolgate"],"wasm":[{"entrypoint":"toolgate/test/allow","module":"/policy.wasm"}]}`);
    expect(files.get('data.json')?.toString()).toBe('{"toolgate":{"limits":{"recipients":50},"tools":["read_file","list_dir"]}}');
    expect(files.get('policy.wasm')?.equals(wasm)).toBe(true);
    const raw = gunzipLimited(b.archive, 1 << 26);
    expect(raw.subarray(136, 148).toString()).toBe('00000000000\0'); // mtime 0
    expect(raw.subarray(100, 108).toString()).toBe('0000644\0');
  });

  it('derives the revision from the content, and uses a given one as is', async () => {
    const base = bundleRevision(input());
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(bundleRevision(input({ data: { toolgate: { tools: ['read_file'] } } }))).not.toBe(base);
    expect(bundleRevision(input({ wasm: Buffer.concat([wasm, Buffer.from([0])]) }))).not.toBe(base);
    expect(bundleRevision(input({ roots: ['toolgate', 'other'] }))).not.toBe(base);
    expect(bundleRevision(input({ entrypoints: [] }))).not.toBe(base);
    // Already-serialized canonical data gives the same revision as the object.
    expect(bundleRevision(input({ data: Buffer.from('{"toolgate":{"limits":{"recipients":50},"tools":["read_file","list_dir"]}}') }))).toBe(base);
    const given = await buildBundle(input({ revision: 'rev-7' }));
    expect(given.revision).toBe('rev-7');
    expect(given.manifest.revision).toBe('rev-7');
  });

  it('refuses data outside the roots, bad entrypoints and reserved extra files', async () => {
    await expect(buildBundle(input({ data: { toolgate: {}, other: 1 } }))).rejects.toThrow(/\/other is outside the bundle roots/);
    await expect(buildBundle(input({ roots: ['toolgate/tools'], data: { toolgate: { tools: [], x: 1 } } }))).rejects.toThrow(/\/toolgate\/x is outside/);
    await expect(buildBundle(input({ roots: [''], data: { anything: 1 } }))).resolves.toBeDefined();
    await expect(buildBundle(input({ wasm: undefined }))).rejects.toThrow(/without a wasm module/);
    await expect(buildBundle(input({ entrypoints: ['/toolgate/x'] }))).rejects.toThrow(/invalid wasm entrypoint/);
    await expect(buildBundle(input({ files: [{ name: '/data.json', data: Buffer.from('{}') }] }))).rejects.toThrow(/written by buildBundle/);
    await expect(buildBundle(input({ files: [{ name: '../x.rego', data: Buffer.from('') }] }))).rejects.toThrow(/invalid bundle file path/);
    await expect(buildBundle(input({ data: Buffer.from('[1]') }))).rejects.toThrow(/JSON object/);
  });

  it('carries extra files and long paths', async () => {
    const long = `policies/${'p'.repeat(90)}/${'q'.repeat(60)}/policy.rego`;
    const b = await buildBundle(input({ files: [{ name: long, data: Buffer.from(rego) }] }));
    expect(readBundleFiles(b.archive).get(long)?.toString()).toBe(rego);
  });

  it('is read by the real opa (inspect) with the manifest we wrote', async () => {
    const b = await buildBundle(input());
    const dir = await tempDir('bundle');
    try {
      const path = join(dir.path, 'bundle.tar.gz');
      await writeFile(path, b.archive);
      const res = await runOpa(['inspect', '--format', 'json', path]);
      expect(res.code, res.stderr).toBe(0);
      const inspected = JSON.parse(res.stdout) as { manifest: { revision: string; roots: string[]; wasm: unknown[] } };
      expect(inspected.manifest.revision).toBe(b.revision);
      expect(inspected.manifest.roots).toEqual(['toolgate']);
      expect(inspected.manifest.wasm).toEqual([{ entrypoint: 'toolgate/test/allow', module: '/policy.wasm' }]);
    } finally {
      await dir.remove();
    }
  });
});

describe('readBundleFiles / openBundle', () => {
  it('refuses duplicates, escapes and bombs', () => {
    const dup = gzipDeterministic(writeTar([{ name: '/data.json', data: Buffer.from('{}') }, { name: 'data.json', data: Buffer.from('{}') }]));
    expect(() => readBundleFiles(dup)).toThrow(/duplicate bundle file/);
    const escape = gzipDeterministic(writeTar([{ name: '/../etc/passwd', data: Buffer.from('x') }]));
    expect(() => readBundleFiles(escape)).toThrow(/escapes the bundle/);
    const bomb = gzipDeterministic(writeTar([{ name: '/data.json', data: Buffer.alloc(4 << 20, 0x20) }]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(() => readBundleFiles(bomb, 1 << 20)).toThrow(/expands beyond/);
    expect(() => readBundleFiles(Buffer.from('not gzip'))).toThrow(/not a gzip archive/);
  });

  it('opens an unsigned bundle only when verification is explicitly skipped', async () => {
    const b = await buildBundle(input());
    const opened = await openBundle(b.archive, { verify: false });
    expect(opened.manifest.revision).toBe(b.revision);
    expect(opened.data).toEqual({ toolgate: { limits: { recipients: 50 }, tools: ['read_file', 'list_dir'] } });
    expect(opened.wasm?.equals(wasm)).toBe(true);
    await expect(openBundle(b.archive, { verify: { keys: {} } })).rejects.toThrow(/not signed/);
  });
});
