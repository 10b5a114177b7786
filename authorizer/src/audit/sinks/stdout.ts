// JSON lines on stdout, for the node's log collector (the path a cluster already ships and keeps
// outside the pod). pino logs share the stream, so each audit line carries a fixed prefix a
// collector routes on (default "toolgate-audit "; AUDIT_STDOUT_PREFIX, may be empty); after the
// prefix the line is exactly the chained record, so the collected copy verifies.
import type { Writable } from 'node:stream';
import type { AuditSink } from './sink.ts';

export const defaultStdoutPrefix = 'toolgate-audit ';

export interface StdoutSinkOptions {
  /** Default process.stdout (AUDIT_STDOUT_STREAM=stderr: process.stderr). */
  stream?: Writable;
  prefix?: string;
}

export class StdoutSink implements AuditSink {
  readonly name = 'stdout';
  readonly #stream: Writable;
  readonly #prefix: string;

  constructor(o: StdoutSinkOptions = {}) {
    this.#stream = o.stream ?? process.stdout;
    this.#prefix = o.prefix ?? defaultStdoutPrefix;
  }

  write(lines: readonly string[]): Promise<void> {
    const text = lines.map((l) => `${this.#prefix}${l}\n`).join('');
    // One write per batch: lines of a batch are not interleaved with a log line written meanwhile.
    return new Promise((resolve, reject) => {
      this.#stream.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
