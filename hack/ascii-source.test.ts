import { describe, expect, it } from 'vitest';
import { asciiComments } from './ascii-source.ts';

describe('asciiComments', () => {
  it('replaces non-ASCII characters in comments, keeping every UTF-16 offset', async () => {
    const src = 'const a = 1; // it’s fine 😀\n/* “quoted” */ const b = "\\u2019";\n';
    const out = await asciiComments(src);
    expect(out).toBe('const a = 1; // it?s fine ??\n/* ?quoted? */ const b = "\\u2019";\n');
    expect(out.length).toBe(src.length);
  });

  it('refuses a non-ASCII character in code, naming the file', async () => {
    await expect(asciiComments('const s = "it’s";\n', 'x.mjs')).rejects.toThrow('x.mjs: a non-ASCII character outside a comment');
    await expect(asciiComments('const re = /’/; // ’\n', 'y.mjs')).rejects.toThrow('y.mjs');
  });

  it('leaves ASCII text as it is', async () => {
    expect(await asciiComments('const a = 1;\n')).toBe('const a = 1;\n');
  });
});
