// What an audit sink is: a place outside the pod the trail's chained lines are copied to, which
// the agent cannot reach. A sink only delivers; buffering, retries, overflow and the
// required/async choice belong to its SinkChannel (channel.ts), the same for every sink.

export interface AuditSink {
  /** Names the sink in metrics, logs, /readyz and overflow records ("stdout", "http", "s3"). */
  readonly name: string;
  /**
   * Delivers lines (each one canonical JSON record, no newline) in chain order. Resolves once
   * the destination holds them; rejects when it does not (throw a SinkWriteError to ask for a
   * delay). A rejected batch is offered again, whole, so a destination must tolerate a batch it
   * partly kept (the lines carry seq and hash: a reader drops a repeated seq).
   */
  write(lines: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export type SinkMode = 'required' | 'async';

/** A failed delivery that knows when to come back (HTTP 429/503 Retry-After). */
export class SinkWriteError extends Error {
  override name = 'SinkWriteError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, opts: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.retryAfterMs = opts.retryAfterMs;
  }
}
