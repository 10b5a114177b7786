import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gunzipLimited, gzipDeterministic, readTar, writeTar } from './tar.ts';
import { tempDir, writeFiles } from '../../test/support/bundle.ts';

const execFileP = promisify(execFile);

describe('tar', () => {
  it('writes archives GNU tar lists with fixed owner, mode and mtime', async () => {
    const long = `${'d'.repeat(120)}/policy.rego`;
    const archive = gzipDeterministic(writeTar([{ name: '/.manifest', data: Buffer.from('{}') }, { name: `/${long}`, data: Buffer.alloc(1000, 0x61) }]));
    const dir = await tempDir('tar');
    try {
      await writeFile(join(dir.path, 'a.tar.gz'), archive);
      const { stdout } = await execFileP('tar', ['--numeric-owner', '-tvzf', 'a.tar.gz'], { cwd: dir.path });
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^-rw-r--r-- 0\/0 +2 1970-01-01 00:00 \/\.manifest$/);
      expect(lines[1]).toMatch(new RegExp(`1000 1970-01-01 00:00 /${long}$`));
      await execFileP('tar', ['-xzf', 'a.tar.gz', '-C', dir.path], { cwd: dir.path });
      expect((await readFile(join(dir.path, long))).equals(Buffer.alloc(1000, 0x61))).toBe(true);
    } finally {
      await dir.remove();
    }
  });

  it('reads the PAX and GNU long-name forms other tools write', async () => {
    const dir = await tempDir('tar-read');
    try {
      const long = `${'x'.repeat(150)}/${'y'.repeat(120)}.json`;
      await writeFiles(dir.path, [{ name: `src/${long}`, data: '{"a":1}' }, { name: 'src/short.txt', data: 'hi' }]);
      for (const format of ['pax', 'gnu']) {
        await execFileP('tar', [`--format=${format}`, '-czf', `${format}.tar.gz`, '-C', 'src', '.'], { cwd: dir.path });
        const entries = readTar(gunzipLimited(await readFile(join(dir.path, `${format}.tar.gz`)), 1 << 20));
        const byName = Object.fromEntries(entries.map((e) => [e.name.replace(/^\.\//, ''), e.data.toString()]));
        expect(byName, format).toEqual({ [long]: '{"a":1}', 'short.txt': 'hi' });
      }
    } finally {
      await dir.remove();
    }
  });

  it('refuses corrupt and truncated archives and links', () => {
    const tar = writeTar([{ name: '/data.json', data: Buffer.from('{}') }]);
    // Edits a header field and recomputes the checksum, so only the edited field is wrong.
    const withHeader = (edit: (h: Buffer) => void) => {
      const copy = Buffer.from(tar);
      edit(copy);
      copy.fill(0x20, 148, 156);
      let sum = 0;
      for (const byte of copy.subarray(0, 512)) sum += byte;
      copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
      return copy;
    };
    const corrupt = Buffer.from(tar);
    corrupt[10] = 0x41;
    expect(() => readTar(corrupt)).toThrow(/bad header checksum/);
    const truncated = withHeader((h) => h.write('00000001000', 124, 'ascii')).subarray(0, 600);
    expect(() => readTar(truncated)).toThrow(/truncated/);
    const link = withHeader((h) => h.write('2', 156, 'ascii'));
    expect(() => readTar(link)).toThrow(/links are not allowed/);
  });
});
