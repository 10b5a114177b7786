import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, openBundle, readBundleFiles, type BuildBundleInput } from './bundle.ts';
import { bundleFileHash, verifyBundleSignature, type VerifyOptions } from './sign.ts';
import { gzipDeterministic, writeTar } from './tar.ts';
import { compileWasm, decodeSignaturePayload, runOpa, tempDir, writeFiles } from '../../test/support/bundle.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => k.export({ type, format: 'pem' }).toString();

let wasm: Buffer;
beforeAll(async () => {
  wasm = await compileWasm('package toolgate.test\n\nallow if input.tool == data.toolgate.tool\n', ['toolgate/test/allow']);
}, 60_000);

const data = { toolgate: { tool: 'read_file', note: '<&> \u2028 é 😀', n: 1.5 } };
function signed(overrides: Partial<BuildBundleInput> = {}) {
  return buildBundle({ data, wasm, entrypoints: ['toolgate/test/allow'], roots: ['toolgate'], signer: { key: pem(rsa.privateKey, 'pkcs8'), algorithm: 'RS256', keyId: 'toolgate' }, ...overrides });
}
const rsaKeys: VerifyOptions = { keys: { toolgate: { key: pem(rsa.publicKey, 'spki'), algorithm: 'RS256' } } };

/** Rebuilds an archive with one file replaced (or removed, or added), keeping the signature. */
async function rewrite(archive: Buffer, change: (files: Map<string, Buffer>) => void): Promise<Buffer> {
  const files = await readBundleFiles(archive);
  change(files);
  return gzipDeterministic(await writeTar([...files].map(([name, d]) => ({ name: `/${name}`, data: d }))));
}

describe('bundle signatures', () => {
  it('signs every file with kid in the header and no timestamp, deterministically', async () => {
    const a = await signed();
    const b = await signed();
    expect(a.archive.equals(b.archive)).toBe(true); // RS256 is deterministic, and there is no iat
    const files = await readBundleFiles(a.archive);
    const token = (JSON.parse(files.get('.signatures.json')?.toString() ?? '') as { signatures: string[] }).signatures;
    expect(token).toHaveLength(1);
    expect(JSON.parse(Buffer.from(token[0]?.split('.')[0] ?? '', 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'toolgate' });
    const payload = decodeSignaturePayload(files.get('.signatures.json') ?? '');
    expect(payload.files.map((f) => f.name)).toEqual(['.manifest', 'data.json', 'policy.wasm']);
    expect(payload.files.every((f) => f.algorithm === 'SHA-256')).toBe(true);
    expect(payload).not.toHaveProperty('iat');
  });

  it('round-trips through verifyBundleSignature and openBundle (RS256 and ES256)', async () => {
    const rs = await signed();
    await expect(verifyBundleSignature(await readBundleFiles(rs.archive), rsaKeys)).resolves.toMatchObject({ keyId: 'toolgate' });
    const opened = await openBundle(rs.archive, { verify: rsaKeys });
    expect(opened.signature?.payload.files).toHaveLength(3);
    expect(opened.data).toEqual(data);

    const es = await signed({ signer: { key: ec.privateKey, algorithm: 'ES256', keyId: 'ec', scope: 'prod', issuer: 'toolgate', issuedAt: 1700000000 } });
    const result = await verifyBundleSignature(await readBundleFiles(es.archive), { keys: { ec: { key: ec.publicKey, algorithm: 'ES256', scope: 'prod' } } });
    expect(result.payload).toMatchObject({ scope: 'prod', iss: 'toolgate', iat: 1700000000 });
  });

  it('detects tampering, missing and extra files, wrong keys and scopes', async () => {
    const b = await signed();
    const tampered = await rewrite(b.archive, (f) => f.set('data.json', Buffer.from('{"toolgate":{"tool":"delete_everything"}}')));
    await expect(openBundle(tampered, { verify: rsaKeys })).rejects.toThrow(/data\.json: digest mismatch/);
    const badWasm = await rewrite(b.archive, (f) => f.set('policy.wasm', Buffer.concat([wasm, Buffer.from([0])])));
    await expect(openBundle(badWasm, { verify: rsaKeys })).rejects.toThrow(/policy\.wasm: digest mismatch/);
    const extra = await rewrite(b.archive, (f) => f.set('evil.rego', Buffer.from('package toolgate.test\nallow := true\n')));
    await expect(openBundle(extra, { verify: rsaKeys })).rejects.toThrow(/evil\.rego not included in bundle signature/);
    const missing = await rewrite(b.archive, (f) => f.delete('policy.wasm'));
    await expect(openBundle(missing, { verify: rsaKeys })).rejects.toThrow(/policy\.wasm specified in bundle signatures but not found/);
    // Whitespace and key order are not tampering: OPA hashes the canonical form.
    const reformatted = await rewrite(b.archive, (f) => f.set('data.json', Buffer.from(JSON.stringify({ toolgate: { n: 1.5, note: data.toolgate.note, tool: 'read_file' } }, null, 2))));
    await expect(openBundle(reformatted, { verify: rsaKeys })).resolves.toBeDefined();

    await expect(openBundle(b.archive, { verify: { keys: { toolgate: { key: otherRsa.publicKey, algorithm: 'RS256' } } } })).rejects.toThrow(/failed to verify/);
    await expect(openBundle(b.archive, { verify: { keys: { toolgate: { key: rsa.publicKey, algorithm: 'ES256' } } } })).rejects.toThrow(/failed to verify/);
    await expect(openBundle(b.archive, { verify: { keys: { other: { key: rsa.publicKey, algorithm: 'RS256' } } } })).rejects.toThrow(/ID toolgate not found/);
    // The configured key id wins over the token's kid, as in OPA.
    await expect(openBundle(b.archive, { verify: { keyId: 'other', keys: { other: { key: rsa.publicKey, algorithm: 'RS256' } } } })).resolves.toBeDefined();
    await expect(openBundle(b.archive, { verify: { ...rsaKeys, scope: 'prod' } })).rejects.toThrow(/scope mismatch/);
    const twoSigs = await rewrite(b.archive, (f) => {
      const sig = JSON.parse(f.get('.signatures.json')?.toString() ?? '') as { signatures: string[] };
      f.set('.signatures.json', Buffer.from(JSON.stringify({ signatures: [...sig.signatures, ...sig.signatures] })));
    });
    await expect(openBundle(twoSigs, { verify: rsaKeys })).rejects.toThrow(/multiple JWTs not supported/);
  });

  it('refuses a key that cannot make the requested signature', async () => {
    await expect(signed({ signer: { key: ec.privateKey, algorithm: 'RS256' } })).rejects.toThrow(/cannot sign RS256/);
  });
});

describe('signature file and payload shapes', () => {
  it('refuses a malformed signatures file or payload, naming the field', async () => {
    const sigs = (v: unknown) => new Map([['.signatures.json', Buffer.from(JSON.stringify(v))], ['data.json', Buffer.from('{}')]]);
    await expect(verifyBundleSignature(sigs({ signatures: 'x' }), rsaKeys)).rejects.toThrow('.signatures.json.signatures: must be array, got string');
    await expect(verifyBundleSignature(sigs({ signatures: [1] }), rsaKeys)).rejects.toThrow('.signatures.json.signatures[0]: must be string, got number');
    await expect(verifyBundleSignature(sigs({ signatures: [] }), rsaKeys)).rejects.toThrow('missing JWT (expected exactly one)');
    const signedPayload = (p: unknown) => new CompactSign(Buffer.from(JSON.stringify(p))).setProtectedHeader({ alg: 'RS256', kid: 'toolgate' }).sign(rsa.privateKey);
    await expect(verifyBundleSignature(sigs({ signatures: [await signedPayload({ files: [{ name: 'data.json', hash: 1 }] })] }), rsaKeys))
      .rejects.toThrow('the signature payload.files[0].hash: must be string, got number');
    await expect(verifyBundleSignature(sigs({ signatures: [await signedPayload({ files: [], iat: 'now' })] }), rsaKeys))
      .rejects.toThrow('the signature payload.iat: must be number, got string');
  });
});

describe('compatibility with the real opa', () => {
  it('computes the same file hashes as `opa sign` on the extracted bundle', async () => {
    const b = await signed({ files: [{ name: 'lib/helpers.rego', data: Buffer.from('package toolgate.lib\n\nx := 1\n') }] });
    const dir = await tempDir('sign');
    try {
      const bundleDir = join(dir.path, 'bundle');
      const files = await readBundleFiles(b.archive);
      const ours = decodeSignaturePayload(files.get('.signatures.json') ?? '');
      files.delete('.signatures.json');
      await writeFiles(bundleDir, [...files].map(([name, d]) => ({ name, data: d })));
      await writeFiles(dir.path, [{ name: 'key.pem', data: pem(rsa.privateKey, 'pkcs8') }, { name: 'out/.keep', data: '' }]);
      const res = await runOpa(['sign', '--bundle', '.', '--signing-key', join(dir.path, 'key.pem'), '--signing-alg', 'RS256', '-o', join(dir.path, 'out')], bundleDir);
      expect(res.code, res.stderr).toBe(0);
      const theirs = decodeSignaturePayload(await readFile(join(dir.path, 'out', '.signatures.json')));
      expect([...theirs.files].sort((x, y) => x.name.localeCompare(y.name)))
        .toEqual([...ours.files].sort((x, y) => x.name.localeCompare(y.name)));
    } finally {
      await dir.remove();
    }
  });

  it('has its RS256 and ES256 signatures accepted, and tampering refused, by `opa build --verification-key`', async () => {
    const dir = await tempDir('verify');
    try {
      await writeFiles(dir.path, [{ name: 'rsa.pub', data: pem(rsa.publicKey, 'spki') }, { name: 'ec.pub', data: pem(ec.publicKey, 'spki') }]);
      const verify = async (archive: Buffer, key: string, alg: string) => {
        await writeFile(join(dir.path, 'in.tar.gz'), archive);
        return runOpa(['build', '-b', 'in.tar.gz', '--verification-key', key, '--verification-key-id', 'toolgate', '--signing-alg', alg, '-o', 'out.tar.gz'], dir.path);
      };
      const rs = await signed();
      const ok = await verify(rs.archive, 'rsa.pub', 'RS256');
      expect(ok.code, ok.stderr).toBe(0);
      const es = await signed({ signer: { key: ec.privateKey, algorithm: 'ES256', keyId: 'toolgate' } });
      const okEs = await verify(es.archive, 'ec.pub', 'ES256');
      expect(okEs.code, okEs.stderr).toBe(0);
      const tampered = await rewrite(rs.archive, (f) => f.set('data.json', Buffer.from('{"toolgate":{"tool":"send_email"}}')));
      const bad = await verify(tampered, 'rsa.pub', 'RS256');
      expect(bad.code).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/data\.json: digest mismatch/);
    } finally {
      await dir.remove();
    }
  });

  it('verifies a bundle that opa itself signed', async () => {
    const dir = await tempDir('opa-signed');
    try {
      await writeFiles(dir.path, [
        { name: 'src/data.json', data: JSON.stringify({ toolgate: { tool: 'x', s: '<&>\u2028' } }) },
        { name: 'src/policy.rego', data: 'package toolgate.test\n\nallow if input.tool == data.toolgate.tool\n' },
        { name: 'key.pem', data: pem(rsa.privateKey, 'pkcs8') },
      ]);
      const res = await runOpa(['build', '-b', 'src', '--signing-key', 'key.pem', '--signing-alg', 'RS256', '-o', 'signed.tar.gz'], dir.path);
      expect(res.code, res.stderr).toBe(0);
      const files = await readBundleFiles(await readFile(join(dir.path, 'signed.tar.gz')));
      const verified = await verifyBundleSignature(files, { keyId: 'toolgate', keys: { toolgate: { key: pem(rsa.publicKey, 'spki'), algorithm: 'RS256' } } });
      expect(verified.payload.files.map((f) => f.name).sort()).toEqual([...files.keys()].filter((n) => n !== '.signatures.json').sort());
      expect(bundleFileHash('data.json', files.get('data.json') ?? Buffer.alloc(0))).toBe(verified.payload.files.find((f) => f.name === 'data.json')?.hash);
    } finally {
      await dir.remove();
    }
  });
});
