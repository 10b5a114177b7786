import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintCa, mintServingCertificate, type TestCa } from '../../../test/support/tls.ts';
import { httpGet } from './http.ts';

let ca: TestCa & { remove(): Promise<void> };
let otherCa: TestCa & { remove(): Promise<void> };
let server: Server;
let port: number;
const seen: string[] = [];

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([mintCa('bundles-ca'), mintCa('some-other-ca')]);
  const cert = await mintServingCertificate(ca, { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await Promise.all([ca.remove(), otherCa.remove()]);
});

const opts = (ca?: string) => ({ headers: { authorization: 'Bearer the-token' }, signal: new AbortController().signal, timeoutMs: 5_000, maxBodyBytes: 1024, ...(ca ? { ca } : {}) });

describe('httpGet over TLS', () => {
  it('verifies the server against the CA given', async () => {
    const res = await httpGet(new URL(`https://127.0.0.1:${port}/bundles/x`), opts(ca.certPem));
    expect(res.status).toBe(200);
    expect(seen).toEqual(['Bearer the-token']);
  });

  it('refuses a certificate from another CA before sending anything, naming BUNDLE_CA_FILE', async () => {
    seen.length = 0;
    await expect(httpGet(new URL(`https://127.0.0.1:${port}/bundles/x`), opts(otherCa.certPem)))
      .rejects.toThrow(/refused the TLS certificate of 127\.0\.0\.1:\d+ \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .*\); it does not verify against the CA bundle in BUNDLE_CA_FILE; nothing was sent/);
    // Without a CA the system roots are used, which do not know the test CA either.
    await expect(httpGet(new URL(`https://127.0.0.1:${port}/bundles/x`), opts())).rejects.toThrow(/against the system roots \(set BUNDLE_CA_FILE/);
    expect(seen).toEqual([]);
  });

  it('refuses a certificate issued for another name', async () => {
    const elsewhere = await mintServingCertificate(ca, { dnsNames: ['elsewhere.example'], ips: [] });
    const other = createServer({ cert: elsewhere.certPem, key: elsewhere.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      await expect(httpGet(new URL(`https://127.0.0.1:${(other.address() as AddressInfo).port}/bundles/x`), opts(ca.certPem)))
        .rejects.toThrow(/refused the TLS certificate .*ERR_TLS_CERT_ALTNAME_INVALID/);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
