import { X509Certificate } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintCa, mintServingCertificate, type ServingCertificate, type TestCa } from '../../../test/support/tls.ts';
import { createBundleMetrics } from './metrics.ts';
import { startBundleServer } from './server.ts';
import { BundleStore } from './store.ts';
import { loadTlsPair, TlsConfigError } from './tls.ts';

let ca: TestCa & { remove(): Promise<void> };
let first: ServingCertificate;
let second: ServingCertificate;

beforeAll(async () => {
  ca = await mintCa();
  [first, second] = await Promise.all([mintServingCertificate(ca, { base: 'first' }), mintServingCertificate(ca, { base: 'second' })]);
});
afterAll(() => ca.remove());

/** The serial number of the certificate the server presents, verified against the test CA. */
function presentedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

describe('loadTlsPair', () => {
  it('loads a matching certificate and key from files', () => {
    const pair = loadTlsPair({ certFile: first.certFile, keyFile: first.keyFile });
    expect(pair.cert.toString()).toBe(first.certPem);
  });

  it('refuses a key that does not match the certificate, naming both files', () => {
    expect(() => loadTlsPair({ certFile: first.certFile, keyFile: second.keyFile })).toThrow(TlsConfigError);
    expect(() => loadTlsPair({ certFile: first.certFile, keyFile: second.keyFile })).toThrow(new RegExp(`certificate and key \\(${first.certFile}, ${second.keyFile}\\) do not load`));
  });

  it('names a file it cannot read', () => {
    expect(() => loadTlsPair({ certFile: `${ca.dir}/absent.crt`, keyFile: first.keyFile })).toThrow(/cannot read the bundle service's TLS certificate .*absent\.crt/);
  });
});

describe('bundle server TLS', () => {
  it('serves the mounted certificate and swaps in a renewed one; a broken renewal leaves the previous one in force', async () => {
    const certFile = `${ca.dir}/mounted.crt`;
    const keyFile = `${ca.dir}/mounted.key`;
    await copyFile(first.certFile, certFile);
    await copyFile(first.keyFile, keyFile);
    const store = new BundleStore({ metrics: createBundleMetrics(new Registry()) });
    const server = await startBundleServer({
      store, port: 0, host: '127.0.0.1', authenticate: () => Promise.resolve(undefined), tls: { certFile, keyFile, reloadIntervalMs: 25 },
    });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(await presentedSerial(server.port)).toBe(serialOf(first.certPem));

      // As the kubelet updates a renewed Secret's files.
      await copyFile(second.certFile, certFile);
      await copyFile(second.keyFile, keyFile);
      await expect.poll(() => presentedSerial(server.port), { timeout: 5_000 }).toBe(serialOf(second.certPem));

      // A half-written renewal (certificate without its key) is refused.
      await writeFile(certFile, first.certPem);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await presentedSerial(server.port)).toBe(serialOf(second.certPem));
    } finally {
      await server.close();
    }
  });
});
