// The one HTTP error: what went wrong in an HTTP exchange, with the status to answer (or that
// was answered) when there is one, and headers that belong with it (Allow, Retry-After).
export interface HttpErrorOptions {
  status?: number;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class HttpError extends Error {
  override name = 'HttpError';
  /** The HTTP status; undefined when the exchange never produced one (timeout, bad URL). */
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(message: string, o: HttpErrorOptions = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.status = o.status;
    this.headers = o.headers ?? {};
  }
}
