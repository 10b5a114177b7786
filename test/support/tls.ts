// Certificates for TLS tests, minted with the machine's openssl as the control-plane harness
// does (EC P-256: fast): a private CA and a serving certificate it signs, with the names given.
// Test-only: nothing shipped imports this file.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface ServingCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`, { cause: err });
  }
}

/** A self-signed CA in a fresh temp dir; `remove()` deletes it. */
export async function mintCa(commonName = 'toolgate-test-bundles-ca'): Promise<TestCa & { remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-tls-'));
  await writeFile(join(dir, 'ca.cnf'), ['[req]', 'prompt = no', 'distinguished_name = dn', 'x509_extensions = v3_ca', '[dn]', `CN = ${commonName}`,
    '[v3_ca]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', ''].join('\n'));
  await openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-config', 'ca.cnf'], dir);
  const certFile = join(dir, 'ca.crt');
  return { dir, certFile, keyFile: join(dir, 'ca.key'), certPem: await readFile(certFile, 'utf8'), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A serving certificate signed by `ca` for the DNS names and IPs given (files named `<base>.crt|key` in the CA's dir). */
export async function mintServingCertificate(ca: TestCa, o: { base?: string; dnsNames?: string[]; ips?: string[] } = {}): Promise<ServingCertificate> {
  const base = o.base ?? `serving-${randomBytes(4).toString('hex')}`;
  const san = [...(o.dnsNames ?? ['localhost']).map((d) => `DNS:${d}`), ...(o.ips ?? ['127.0.0.1']).map((ip) => `IP:${ip}`)].join(',');
  await writeFile(join(ca.dir, `${base}.req.cnf`), ['[req]', 'prompt = no', 'distinguished_name = dn', '[dn]', 'CN = toolgate-bundles', ''].join('\n'));
  await writeFile(join(ca.dir, `${base}.ext.cnf`), ['[ext]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = serverAuth', `subjectAltName = ${san}`, ''].join('\n'));
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.csr`, '-config', `${base}.req.cnf`], ca.dir);
  await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', '2', '-sha256', '-extfile', `${base}.ext.cnf`, '-extensions', 'ext', '-out', `${base}.crt`], ca.dir);
  const certFile = join(ca.dir, `${base}.crt`);
  const keyFile = join(ca.dir, `${base}.key`);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}
