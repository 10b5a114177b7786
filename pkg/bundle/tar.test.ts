import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ArchiveError, gunzipLimited, gzipDeterministic, readTar, writeTar } from './tar.ts';
import { tempDir, writeFiles } from '../../test/support/bundle.ts';

const execFileP = promisify(execFile);

/** Edits the first header and recomputes its checksum, so only the edited field is wrong. */
function withHeader(tar: Buffer, edit: (h: Buffer) => void): Buffer {
  const copy = Buffer.from(tar);
  edit(copy);
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of copy.subarray(0, 512)) sum += byte;
  copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return copy;
}

describe('tar', () => {
  it('writes archives GNU tar lists and extracts, with fixed owner, mode and mtime', async () => {
    const long = `${'d'.repeat(120)}/policy.rego`;
    const unicode = 'räksmörgås/政策.rego';
    const entries = [{ name: '/.manifest', data: Buffer.from('{}') }, { name: `/${long}`, data: Buffer.alloc(1000, 0x61) }, { name: `/${unicode}`, data: Buffer.from('x') }];
    const archive = gzipDeterministic(await writeTar(entries));
    expect(gzipDeterministic(await writeTar(entries)).equals(archive)).toBe(true);
    const dir = await tempDir('tar');
    try {
      await writeFile(join(dir.path, 'a.tar.gz'), archive);
      const { stdout } = await execFileP('tar', ['--numeric-owner', '-tvzf', 'a.tar.gz'], { cwd: dir.path, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^-rw-r--r-- 0\/0 +2 1970-01-01 00:00 \/\.manifest$/);
      // A path over 100 bytes goes into the ustar prefix field, which cannot hold the leading '/'.
      expect(lines[1]).toMatch(new RegExp(`^-rw-r--r-- 0/0 +1000 1970-01-01 00:00 /?${long}$`));
      await execFileP('tar', ['-xzf', 'a.tar.gz', '-C', dir.path], { cwd: dir.path });
      expect((await readFile(join(dir.path, long))).equals(Buffer.alloc(1000, 0x61))).toBe(true);
      expect((await readFile(join(dir.path, unicode))).toString()).toBe('x');
    } finally {
      await dir.remove();
    }
    const back = await readTar(gunzipLimited(archive, 1 << 20));
    expect(back.map((e) => [e.name.replace(/^\//, ''), e.data.length])).toEqual([['.manifest', 2], [long, 1000], [unicode, 1]]);
  });

  it('reads the PAX and GNU long-name forms other tools write', async () => {
    const dir = await tempDir('tar-read');
    try {
      const long = `${'x'.repeat(150)}/${'y'.repeat(120)}.json`;
      await writeFiles(dir.path, [{ name: `src/${long}`, data: '{"a":1}' }, { name: 'src/short.txt', data: 'hi' }]);
      for (const format of ['pax', 'gnu']) {
        await execFileP('tar', [`--format=${format}`, '-czf', `${format}.tar.gz`, '-C', 'src', '.'], { cwd: dir.path });
        const entries = await readTar(gunzipLimited(await readFile(join(dir.path, `${format}.tar.gz`)), 1 << 20));
        const byName = Object.fromEntries(entries.map((e) => [e.name.replace(/^\.\//, ''), e.data.toString()]));
        expect(byName, format).toEqual({ [long]: '{"a":1}', 'short.txt': 'hi' });
      }
    } finally {
      await dir.remove();
    }
  });

  it('refuses corrupt and truncated archives, links, devices and unknown entry types', async () => {
    const tar = await writeTar([{ name: '/data.json', data: Buffer.from('{}') }]);
    const corrupt = Buffer.from(tar);
    corrupt[10] = 0x41;
    await expect(readTar(corrupt)).rejects.toThrow(/corrupt or truncated archive: Invalid tar header/);
    const truncated = withHeader(tar, (h) => h.write('00000001000', 124, 'ascii')).subarray(0, 600);
    await expect(readTar(truncated)).rejects.toThrow(/corrupt or truncated archive: Unexpected end of data/);
    await expect(readTar(tar.subarray(0, 700))).rejects.toThrow(ArchiveError);
    const refusals: Array<[string, RegExp]> = [
      ['1', /links are not allowed in a bundle \(\/data.json\)/],
      ['2', /links are not allowed/],
      ['3', /a character-device entry is not allowed/],
      ['4', /a block-device entry is not allowed/],
      ['6', /a fifo entry is not allowed/],
      ['V', /a unknown-type entry is not allowed/],
    ];
    for (const [flag, why] of refusals) {
      await expect(readTar(withHeader(tar, (h) => h.write(flag, 156, 'ascii'))), flag).rejects.toThrow(why);
    }
  });

  it('skips directories and counts every entry against the limit', async () => {
    const tar = await writeTar([{ name: '/a/', data: Buffer.alloc(0) }, { name: '/a/b.rego', data: Buffer.from('x') }]);
    const asDirectory = withHeader(tar, (h) => h.write('5', 156, 'ascii'));
    expect((await readTar(asDirectory)).map((e) => e.name)).toEqual(['/a/b.rego']);
    await expect(readTar(asDirectory, { maxEntries: 1 })).rejects.toThrow(/more than 1 entries/);
  });
});
