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
      reject(certificateRefusal(err, url, opts.ca !== undefined) ?? err);
    });
    req.end();
  });
}

// OpenSSL's verification failures (and Node's host-name check): the handshake stopped before the
// request, token included, was sent.
const certificateErrors = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A clear error for a bundle service certificate that does not verify; undefined for other errors. */
function certificateRefusal(err: Error, url: URL, customCa: boolean): HttpError | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (url.protocol !== 'https:' || !code || !certificateErrors.has(code)) return undefined;
  const against = customCa ? 'the CA bundle in BUNDLE_CA_FILE' : 'the system roots (set BUNDLE_CA_FILE to the CA that signed it)';
  return new HttpError(`refused the TLS certificate of ${url.host} (${code}: ${err.message}); it does not verify against ${against}; nothing was sent`, { cause: err });
}
