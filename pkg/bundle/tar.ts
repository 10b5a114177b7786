// Bundle archives: ustar through tar-stream (a maintained parser and generator; the reader runs
// on untrusted bytes before any signature check, so it is not hand-written), plus a gzip with a
// fixed header. Reproducible: every entry is written with mtime 0, owner 0:0, mode 0644 and no
// user or group names, and tar-stream derives a header from those fields alone, so the same
// files always give the same bytes (long or non-ASCII paths become a PAX header, the same way
// every time). The reader takes regular files only: a bundle has no use for links or devices.
import { constants as zlibConstants, crc32, deflateRawSync, gunzipSync } from 'node:zlib';
import { extract, pack } from 'tar-stream';

export interface TarEntry {
  name: string;
  data: Buffer;
}

export interface TarLimits {
  /** Most entries (of any type) read; default 1000, where a bundle has a handful. */
  maxEntries?: number;
  /** Largest single file; default: no limit beyond the gunzip limit of the whole archive. */
  maxFileBytes?: number;
}

export const defaultMaxTarEntries = 1000;
const fileMode = 0o644;

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** A ustar archive of the entries in the order given. */
export async function writeTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const packer = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of packer) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const header = { name: e.name, size: e.data.length, type: 'file' as const, mode: fileMode, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) };
    await new Promise<void>((resolve, reject) => {
      packer.entry(header, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength), (err) => (err ? reject(err) : resolve()));
    });
  }
  packer.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/**
 * gzip with a fixed header (no name, mtime 0, XFL 2, OS 255 "unknown") around raw deflate:
 * zlib's own gzip header records the build platform, which would make archives differ
 * between machines. The deflate stream itself is deterministic for a given zlib.
 */
export function gzipDeterministic(data: Uint8Array): Buffer {
  const head = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x02, 0xff]);
  const body = deflateRawSync(data, { level: zlibConstants.Z_BEST_COMPRESSION });
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(crc32(data), 0);
  tail.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([head, body, tail]);
}

/** Gunzips, refusing to inflate past maxBytes (a small archive can expand enormously). */
export function gunzipLimited(data: Uint8Array, maxBytes: number): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    if (err instanceof RangeError) throw new ArchiveError(`archive expands beyond ${maxBytes} bytes`);
    throw new ArchiveError(`not a gzip archive: ${(err as Error).message}`);
  }
}

/**
 * The regular files of a tar archive, in archive order (ustar, and the PAX and GNU long-name
 * forms Go and GNU tar write). Directories are skipped; links, devices, FIFOs and entry types
 * tar-stream does not know are refused, as are more than maxEntries entries, a file larger than
 * maxFileBytes, and a corrupt or truncated archive.
 */
export async function readTar(archive: Uint8Array, limits: TarLimits = {}): Promise<TarEntry[]> {
  const maxEntries = limits.maxEntries ?? defaultMaxTarEntries;
  const maxFileBytes = limits.maxFileBytes ?? Number.POSITIVE_INFINITY;
  const files: TarEntry[] = [];
  const extractor = extract();
  extractor.end(Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength));
  let count = 0;
  try {
    for await (const entry of extractor) {
      const { name, type, size = 0 } = entry.header;
      if (++count > maxEntries) throw new ArchiveError(`tar: more than ${maxEntries} entries`);
      if (type === 'directory') {
        entry.resume();
        continue;
      }
      if (type === 'link' || type === 'symlink') throw new ArchiveError(`tar: links are not allowed in a bundle (${name})`);
      if (type !== 'file' && type !== 'contiguous-file') throw new ArchiveError(`tar: a ${type ?? 'unknown-type'} entry is not allowed in a bundle (${name})`);
      if (size > maxFileBytes) throw new ArchiveError(`tar: ${name} is ${size} bytes, more than the limit of ${maxFileBytes}`);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.push({ name, data: Buffer.concat(chunks) });
    }
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`tar: corrupt or truncated archive: ${(err as Error).message}`);
  }
  return files;
}
