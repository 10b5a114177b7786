// A minimal ustar writer and reader plus a fixed-header gzip, enough for OPA bundles. Written
// here rather than taken from npm because bundles must be byte-for-byte reproducible (fixed
// mtime, owner, mode and gzip header) and a general archiver makes that hard to guarantee,
// while the format OPA reads (Go's archive/tar) needs only plain ustar entries.
import { constants as zlibConstants, crc32, deflateRawSync, gunzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  data: Buffer;
}

const block = 512;
const fileMode = 0o644;

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

function writeOctal(header: Buffer, offset: number, width: number, value: number): void {
  // width-1 digits then NUL, the form every tar reader accepts.
  const text = value.toString(8).padStart(width - 1, '0');
  if (text.length > width - 1) throw new ArchiveError(`tar: ${value} does not fit a ${width}-byte field`);
  header.write(`${text}\0`, offset, width, 'ascii');
}

/** Splits a long path over ustar's prefix (155 bytes) and name (100 bytes) fields. */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100 && base !== '') return { prefix, base };
  }
  throw new ArchiveError(`tar: path too long for a ustar header: ${name}`);
}

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(block);
  const { prefix, base } = splitName(name);
  h.write(base, 0, 100, 'utf8');
  writeOctal(h, 100, 8, fileMode);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 0); // mtime: the epoch, so the archive depends on content only
  h.write('0', 156, 1, 'ascii'); // regular file
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** A ustar archive of the entries in the order given. */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry.name, entry.data.length), entry.data);
    const pad = (block - (entry.data.length % block)) % block;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * block)); // end-of-archive marker
  return Buffer.concat(parts);
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

function cString(buf: Buffer, offset: number, width: number): string {
  const field = buf.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? width : end).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, width: number, what: string): number {
  const text = cString(buf, offset, width).trim();
  if (!/^[0-7]*$/.test(text)) throw new ArchiveError(`tar: invalid ${what} field`);
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = readOctal(h, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
  return sum === stored;
}

/** The `path` record of a PAX extended header, which overrides the next entry's name. */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length) throw new ArchiveError('tar: malformed PAX header');
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    pos += len;
  }
  return path;
}

/**
 * Regular files of a tar archive (ustar, plus the PAX and GNU long-name forms Go and GNU
 * tar emit for long paths). Directories are skipped; links are refused because a bundle
 * has no use for them.
 */
export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  for (let offset = 0; offset + block <= archive.length;) {
    const h = archive.subarray(offset, offset + block);
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw new ArchiveError(`tar: bad header checksum at offset ${offset}`);
    const size = readOctal(h, 124, 12, 'size');
    const start = offset + block;
    if (start + size > archive.length) throw new ArchiveError('tar: truncated archive');
    const data = archive.subarray(start, start + size);
    offset = start + Math.ceil(size / block) * block;
    const type = String.fromCharCode(h[156] as number);
    const magic = cString(h, 257, 6);
    const prefix = magic.startsWith('ustar') ? cString(h, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
    switch (type) {
      case 'x':
        longName = paxPath(data);
        continue;
      case 'L':
        longName = cString(data, 0, data.length);
        continue;
      case '0':
      case '\0':
      case '7':
        entries.push({ name, data });
        break;
      case '1':
      case '2':
        throw new ArchiveError(`tar: links are not allowed in a bundle (${name})`);
      default:
        break; // directories, global PAX headers and device entries carry no bundle content
    }
    longName = undefined;
  }
  return entries;
}
