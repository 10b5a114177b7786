// One GET against the bundle service with node:http(s), because the bundle client needs what
// fetch does not offer without extra packages: a custom CA per request, and a hard limit on
// the body that stops reading (and drops the connection) as soon as it is exceeded.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { HttpError } from '../../../pkg/http/error.ts';

export interface GetOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Gives up when the whole exchange takes longer (a held long poll included). */
  timeoutMs: number;
  maxBodyBytes: number;
  /** PEM CA bundle for https; the system roots when absent. */
  ca?: string;
}

export interface GetResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export { HttpError } from '../../../pkg/http/error.ts';

export function httpGet(url: URL, opts: GetOptions): Promise<GetResult> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new HttpError(`unsupported URL scheme ${url.protocol}`));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<GetResult>((resolve, reject) => {
    const req = send(url, {
      method: 'GET',
      headers: opts.headers,
      signal: opts.signal,
      // A fresh connection per poll: a held long poll occupies it anyway, and a draining
      // operator replica asks clients to reconnect elsewhere.
      agent: false,
      ...(opts.ca ? { ca: opts.ca } : {}),
    }, (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBodyBytes) {
        req.destroy(new HttpError(`response body of ${declared} bytes is larger than the limit of ${opts.maxBodyBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBodyBytes) {
          req.destroy(new HttpError(`response body is larger than ${opts.maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    const timer = setTimeout(() => req.destroy(new HttpError(`no complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
