import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from './file-source.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-file-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileSource', () => {
  it('caches for refreshMs, then picks up a rotated file', async () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, 'first\n');
    let now = 0;
    const src = new FileSource({ path: file, what: 'token', refreshMs: 1_000, now: () => now });
    expect(await src.get()).toBe('first');
    writeFileSync(file, 'second');
    now = 999;
    expect(await src.get()).toBe('first');
    expect(await src.get(true)).toBe('second');
    writeFileSync(file, 'third');
    now = 2_000;
    expect(await src.get()).toBe('third');
  });

  it('keeps the last good value when a re-read fails, and says why', async () => {
    const file = path.join(dir, 'vanishing');
    writeFileSync(file, 'good');
    let now = 0;
    const src = new FileSource({ path: file, what: 'token', refreshMs: 10, now: () => now });
    expect(await src.get()).toBe('good');
    rmSync(file);
    now = 100;
    expect(await src.get()).toBe('good');
    expect(src.lastError).toMatch(/cannot read the token from .*vanishing/);
    writeFileSync(file, 'back');
    expect(await src.get()).toBe('back');
    expect(src.lastError).toBeUndefined();
  });

  it('fails, naming the file, when it was never readable or is empty', async () => {
    await expect(new FileSource({ path: path.join(dir, 'missing'), what: 'service-account token' }).get())
      .rejects.toThrow(/cannot read the service-account token from .*missing/);
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '  \n');
    await expect(new FileSource({ path: empty, what: 'token' }).get()).rejects.toThrow(/the file is empty/);
  });
});
