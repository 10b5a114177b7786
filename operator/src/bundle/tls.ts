// The bundle service's TLS certificate. Authorizers send their service-account tokens to the
// bundle service, so it serves HTTPS with a certificate from a Secret (cert-manager or made by
// hand), mounted as files. cert-manager renews the Secret in place and the kubelet updates the
// mounted files, so the files are re-read periodically and a changed pair replaces the served
// one without a restart; a pair that does not load (half-written, key not matching) is refused
// and the previous one stays in force.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { errorMessage, type Logger } from '../../../pkg/observability/log.ts';

/** PEM certificate chain and key, given directly or as files that are re-read. */
export type BundleTls =
  | { cert: string | Buffer; key: string | Buffer }
  | { certFile: string; keyFile: string; reloadIntervalMs?: number };

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

/** Reads and checks the pair: both PEM, the key matching the certificate. */
export function loadTlsPair(tls: BundleTls): TlsPair {
  const pair = 'certFile' in tls
    ? { cert: readPem(tls.certFile, 'certificate'), key: readPem(tls.keyFile, 'private key') }
    : { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) };
  try {
    // Throws on an unparsable certificate or key, and on a key that does not match the certificate.
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    const where = 'certFile' in tls ? ` (${tls.certFile}, ${tls.keyFile})` : '';
    throw new TlsConfigError(`the bundle service's TLS certificate and key${where} do not load: ${errorMessage(err)}`, { cause: err });
  }
  return pair;
}

/** Subject names and expiry of the first certificate in the chain, for the log. */
export function describeCertificate(cert: Buffer): { subject: string; subjectAltName?: string; validTo: string; expired: boolean } {
  const x509 = new X509Certificate(cert);
  return {
    subject: x509.subject.replace(/\n/g, ', '),
    ...(x509.subjectAltName ? { subjectAltName: x509.subjectAltName } : {}),
    validTo: new Date(x509.validTo).toISOString(),
    expired: Date.parse(x509.validTo) <= Date.now(),
  };
}

/**
 * Re-reads certFile/keyFile every interval and swaps in a changed pair. Returns the stop.
 * A pair given directly is never reloaded.
 */
export function watchTlsFiles(server: HttpsServer, tls: BundleTls, initial: TlsPair, log: Logger | undefined): () => void {
  if (!('certFile' in tls)) return () => undefined;
  let current = initial;
  const timer = setInterval(() => {
    let next: TlsPair;
    try {
      const cert = readFileSync(tls.certFile);
      const key = readFileSync(tls.keyFile);
      if (cert.equals(current.cert) && key.equals(current.key)) return;
      next = loadTlsPair({ cert, key });
    } catch (err) {
      log?.warn({ err: errorMessage(err), certFile: tls.certFile }, 'could not load the renewed bundle service certificate; the previous one stays in force');
      return;
    }
    server.setSecureContext({ cert: next.cert, key: next.key });
    current = next;
    log?.info({ certificate: describeCertificate(next.cert) }, 'bundle service certificate reloaded');
  }, tls.reloadIntervalMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsConfigError(`cannot read the bundle service's TLS ${what} ${path}: ${errorMessage(err)}`, { cause: err });
  }
}
