// A small file the authorizer must keep re-reading: the projected service-account token
// (kubelet rotates it well before expiry, replacing the file through a symlink swap) and the
// CA bundle of the operator's bundle service (a mounted Secret or ConfigMap, updated in place).
// The contents are cached for `refreshMs`; after a failed read the last good contents stay in
// use, since an expired-but-cached token fails loudly at the server (401) while an empty one
// would fail for a reason nobody can see.
import { readFile } from 'node:fs/promises';

export interface FileSourceOptions {
  path: string;
  /** What the file is, for error messages ("service-account token"). */
  what: string;
  /** How long a read stays fresh. Default 60 s. */
  refreshMs?: number;
  /** Largest accepted file; the token or CA bundle is never near it. Default 1 MiB. */
  maxBytes?: number;
  now?: () => number;
}

export class FileSource {
  readonly path: string;
  readonly #what: string;
  readonly #refreshMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  #value: string | undefined;
  #readAt = -Infinity;
  /** Why the latest re-read failed while an older value stayed in use; cleared by a good read. */
  lastError: string | undefined;

  constructor(opts: FileSourceOptions) {
    this.path = opts.path;
    this.#what = opts.what;
    this.#refreshMs = opts.refreshMs ?? 60_000;
    this.#maxBytes = opts.maxBytes ?? 1024 * 1024;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * The file's contents (trimmed), re-read when older than refreshMs or when `force` is set
   * (after a 401: the token may have been rotated since). Throws only when it was never read.
   */
  async get(force = false): Promise<string> {
    if (!force && this.#value !== undefined && this.#now() - this.#readAt < this.#refreshMs) return this.#value;
    try {
      const text = (await readFile(this.path, 'utf8')).trim();
      if (text === '') throw new Error('the file is empty');
      if (Buffer.byteLength(text) > this.#maxBytes) throw new Error(`the file is larger than ${this.#maxBytes} bytes`);
      this.#value = text;
      this.#readAt = this.#now();
      this.lastError = undefined;
      return text;
    } catch (err) {
      const reason = `cannot read the ${this.#what} from ${this.path}: ${(err as Error).message}`;
      if (this.#value === undefined) throw new Error(reason, { cause: err });
      // Keep the last good value, but try again on the next call rather than after a full period.
      this.#readAt = this.#now() - this.#refreshMs;
      this.lastError = reason;
      return this.#value;
    }
  }
}
