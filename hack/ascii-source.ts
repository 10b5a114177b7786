// Non-ASCII characters in a bundle's comments become '?' (two for one outside the BMP), so the
// source is one byte a character in V8's heap and every UTF-16 offset — the source map's
// columns — stays where it was. esbuild escapes non-ASCII characters in code (its default
// charset) and copies comments verbatim, so only comments have any; the proof is that the
// program esbuild reads from the bundle, comments dropped, is the same before and after.
import { transform } from 'esbuild';

/** `text` with non-ASCII characters replaced; throws when that changed anything but comments. */
export async function asciiComments(text: string, file = 'bundle'): Promise<string> {
  if (!/[^\p{ASCII}]/u.test(text)) return text;
  const ascii = text.replace(/[^\p{ASCII}]/gu, (c) => '?'.repeat(c.length));
  const program = async (src: string) => (await transform(src, { format: 'esm', minifyWhitespace: true, legalComments: 'none', charset: 'utf8', logLevel: 'silent' })).code;
  if ((await program(text)) !== (await program(ascii))) {
    throw new Error(`${file}: a non-ASCII character outside a comment (replacing it would change the program); bundle with esbuild's default charset`);
  }
  return ascii;
}
