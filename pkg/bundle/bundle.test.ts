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
    const entries = await readTar(gunzipLimited(b.archive, 1 << 26));
    expect(entries.map((e) => e.name)).toEqual(['/.manifest', '/data.json', '/policy.wasm']);
    const files = await readBundleFiles(b.archive);
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
    // tar-stream's octal fields: digits, a space, NUL.
    expect(raw.subarray(136, 148).toString()).toBe('00000000000 '); // mtime 0
    expect(raw.subarray(100, 108).toString()).toBe('000644 \0');
    expect(raw.subarray(108, 124).toString()).toBe('000000 \x00000000 \x00'); // owner 0:0
    expect(raw.subarray(265, 329).every((b) => b === 0)).toBe(true); // no user or group name
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
    expect((await readBundleFiles(b.archive)).get(long)?.toString()).toBe(rego);
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
  const archiveOf = async (entries: Array<{ name: string; data: string | Buffer }>) =>
    gzipDeterministic(await writeTar(entries.map((e) => ({ name: e.name, data: Buffer.from(e.data) }))));

  it('refuses duplicates, escapes, unclean paths, too many entries and bombs', async () => {
    await expect(readBundleFiles(await archiveOf([{ name: '/data.json', data: '{}' }, { name: 'data.json', data: '{}' }]))).rejects.toThrow(/duplicate bundle file: data.json/);
    await expect(readBundleFiles(await archiveOf([{ name: './data.json', data: '{}' }, { name: '/data.json', data: '{}' }]))).rejects.toThrow(/duplicate bundle file/);
    await expect(readBundleFiles(await archiveOf([{ name: '/../etc/passwd', data: 'x' }]))).rejects.toThrow(/escapes the bundle/);
    await expect(readBundleFiles(await archiveOf([{ name: 'a/../../x', data: 'x' }]))).rejects.toThrow(/escapes the bundle/);
    for (const name of ['//etc/passwd', 'a//b.rego', 'a/./b.rego', '/.']) {
      await expect(readBundleFiles(await archiveOf([{ name, data: 'x' }])), name).rejects.toThrow(/not a clean relative path/);
    }
    const many = await archiveOf(Array.from({ length: 11 }, (_, i) => ({ name: `/f${i}.rego`, data: 'x' })));
    await expect(readBundleFiles(many, 1 << 20, { maxEntries: 10 })).rejects.toThrow(/more than 10 entries/);
    await expect(readBundleFiles(many, 1 << 20, { maxFileBytes: 0 })).rejects.toThrow(/f0.rego is 1 bytes, more than the limit of 0/);
    const bomb = await archiveOf([{ name: '/data.json', data: Buffer.alloc(4 << 20, 0x20) }]);
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(readBundleFiles(bomb, 1 << 20)).rejects.toThrow(/expands beyond/);
    await expect(readBundleFiles(Buffer.from('not gzip'))).rejects.toThrow(/not a gzip archive/);
  });

  it('refuses a manifest or data document of the wrong shape, naming the field', async () => {
    const open = async (files: Array<{ name: string; data: string }>) => openBundle(await archiveOf(files), { verify: false });
    await expect(open([{ name: '/.manifest', data: '{"revision":7}' }])).rejects.toThrow('.manifest.revision: must be string, got number');
    await expect(open([{ name: '/.manifest', data: '{"roots":"toolgate"}' }])).rejects.toThrow('.manifest.roots: must be array, got string');
    await expect(open([{ name: '/.manifest', data: '{"wasm":[{"entrypoint":"a"}]}' }])).rejects.toThrow('.manifest.wasm[0].module: is required');
    await expect(open([{ name: '/.manifest', data: '[]' }])).rejects.toThrow('.manifest: must be object, got array');
    await expect(open([{ name: '/.manifest', data: '{' }])).rejects.toThrow(/\.manifest is not JSON/);
    await expect(open([{ name: '/data.json', data: '[1]' }])).rejects.toThrow('data.json must hold a JSON object');
    // OPA's defaults, and fields OPA defines beyond the ones toolgate reads, are fine.
    await expect(open([{ name: '/.manifest', data: '{"rego_version":1}' }])).resolves.toMatchObject({ manifest: { revision: '', roots: [''], rego_version: 1 } });
    await expect(open([])).resolves.toMatchObject({ manifest: { revision: '', roots: [''] }, data: {} });
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
