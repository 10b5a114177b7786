// OPA bundle signatures (docs: management-bundles "Signing"; source: v1/bundle/sign.go,
// verify.go). `.signatures.json` is {"signatures": ["<JWS compact>"]} and the JWS payload
// lists every other file of the bundle with its digest: {"files": [{"name", "hash",
// "algorithm"}], "scope"?, "iat"?, "iss"?}. Structured files (.manifest, data.json) are
// hashed over OPA's canonical JSON (opa-json.ts), everything else over its raw bytes.
// verifyBundleSignature applies OPA's own rules so the authorizer accepts exactly what a
// real OPA would accept.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { signaturePayloadContract, signaturesFileContract, type SignaturePayload, type SignedFileInfo } from '../contracts/bundle.ts';
import { opaCanonicalJson } from './opa-json.ts';

export type { SignaturePayload, SignedFileInfo };

export const signaturesFileName = '.signatures.json';
export type SigningAlgorithm = 'RS256' | 'ES256';

export interface BundleFile {
  /** Path inside the bundle; a leading '/' is ignored, as OPA ignores it. */
  name: string;
  data: Uint8Array;
}

export interface BundleSigner {
  /** PEM (PKCS#8, PKCS#1 or SEC1) or a Node KeyObject. */
  key: KeyObject | string;
  algorithm: SigningAlgorithm;
  /** Written to the JWS header as `kid`; OPA uses it when its config names no keyid. */
  keyId?: string;
  scope?: string;
  issuer?: string;
  /** Seconds since the epoch. Left out by default: a timestamp would make bundles differ run to run. */
  issuedAt?: number;
}

export interface VerificationKey {
  /** PEM public key (SPKI or PKCS#1), certificate, or a KeyObject. */
  key: KeyObject | string;
  algorithm: string;
  scope?: string;
}

export interface VerifyOptions {
  /** Keys by id, like OPA's `keys` configuration section. */
  keys: Readonly<Record<string, VerificationKey>>;
  /** Like OPA's bundle `signing.keyid`: wins over the token's kid. */
  keyId?: string;
  scope?: string;
  /** Files not covered by the signature (OPA's `exclude_files`). */
  exclude?: readonly string[];
}

export interface VerifiedSignature {
  keyId: string;
  payload: SignaturePayload;
}

export class BundleSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleSignatureError';
  }
}

// OPA's hashing algorithm names and their node:crypto equivalents.
const hashAlgorithms: Readonly<Record<string, string>> = {
  'MD5': 'md5', 'SHA-1': 'sha1', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384',
  'SHA-512': 'sha512', 'SHA-512-224': 'sha512-224', 'SHA-512-256': 'sha512-256',
};
const verificationAlgorithms = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);
const structuredBaseNames = new Set(['data.json', 'data.yaml', '.manifest', signaturesFileName]);

/** The name OPA compares: it trims one leading '/' from tar paths. */
export function bundlePath(name: string): string {
  return name.startsWith('/') ? name.slice(1) : name;
}

/** OPA's IsStructuredDoc: these files are hashed as JSON documents, wherever they sit. */
export function isStructuredBundleFile(name: string): boolean {
  return structuredBaseNames.has(name.slice(name.lastIndexOf('/') + 1));
}

/** The digest OPA computes for one bundle file (hex). */
export function bundleFileHash(name: string, data: Uint8Array, algorithm = 'SHA-256'): string {
  const nodeAlgorithm = hashAlgorithms[algorithm];
  if (!nodeAlgorithm) throw new BundleSignatureError(`unsupported hashing algorithm ${algorithm} for file ${name}`);
  const hash = createHash(nodeAlgorithm);
  if (!isStructuredBundleFile(name)) return hash.update(data).digest('hex');
  if (name.endsWith('.yaml')) throw new BundleSignatureError(`${name}: YAML data files are not supported`);
  try {
    return hash.update(opaCanonicalJson(data), 'utf8').digest('hex');
  } catch (err) {
    throw new BundleSignatureError(`${name}: ${(err as Error).message}`);
  }
}

function privateKey(key: KeyObject | string): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}

function assertKeyFits(key: KeyObject, algorithm: SigningAlgorithm): void {
  const fits = algorithm === 'RS256'
    ? key.asymmetricKeyType === 'rsa'
    : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!fits) throw new BundleSignatureError(`a ${key.asymmetricKeyType ?? 'symmetric'} key cannot sign ${algorithm}`);
}

/** The `.signatures.json` content for these files (any existing signatures file is skipped). */
export async function signBundleFiles(files: readonly BundleFile[], signer: BundleSigner): Promise<Buffer> {
  const key = privateKey(signer.key);
  assertKeyFits(key, signer.algorithm);
  const infos = files
    .map((f) => ({ name: bundlePath(f.name), data: f.data }))
    .filter((f) => f.name !== signaturesFileName)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => ({ name: f.name, hash: bundleFileHash(f.name, f.data), algorithm: 'SHA-256' }));
  const names = new Set(infos.map((f) => f.name));
  if (names.size !== infos.length) throw new BundleSignatureError('duplicate file names in bundle');
  const payload: SignaturePayload = { files: infos };
  if (signer.scope) payload.scope = signer.scope;
  if (signer.issuedAt !== undefined) payload.iat = signer.issuedAt;
  if (signer.issuer) payload.iss = signer.issuer;
  const header = { alg: signer.algorithm, typ: 'JWT', ...(signer.keyId ? { kid: signer.keyId } : {}) };
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader(header).sign(key);
  return Buffer.from(JSON.stringify({ signatures: [jws] }));
}

function parseSignatures(raw: Uint8Array): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new BundleSignatureError(`${signaturesFileName} is not JSON`);
  }
  const problem = signaturesFileContract.problem(parsed);
  if (problem) throw new BundleSignatureError(problem);
  const { signatures } = parsed as { signatures: string[] };
  if (signatures.length === 0) throw new BundleSignatureError(`${signaturesFileName}: missing JWT (expected exactly one)`);
  if (signatures.length > 1) throw new BundleSignatureError(`${signaturesFileName}: multiple JWTs not supported (expected exactly one)`);
  return signatures[0] as string;
}

function parsePayload(raw: Uint8Array): SignaturePayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new BundleSignatureError('the signature payload is not JSON');
  }
  const problem = signaturePayloadContract.problem(parsed);
  if (problem) throw new BundleSignatureError(problem);
  return parsed as SignaturePayload;
}

function unverifiedKeyId(token: string): { kid?: string; keyid?: string } {
  try {
    const header = decodeProtectedHeader(token);
    const payloadPart = token.split('.')[1] ?? '';
    const payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as { keyid?: unknown };
    return {
      ...(typeof header.kid === 'string' ? { kid: header.kid } : {}),
      ...(typeof payload.keyid === 'string' ? { keyid: payload.keyid } : {}),
    };
  } catch {
    throw new BundleSignatureError('the bundle signature is not a compact JWS');
  }
}

/**
 * Verifies a bundle's signature the way OPA does: exactly one JWS; key id from the
 * configuration, else the JWS `kid`, else the payload's deprecated `keyid`; scope must equal
 * the configured one; every file except .signatures.json (and excluded ones) must be listed
 * with a matching digest, and every listed file must be present.
 */
export async function verifyBundleSignature(files: ReadonlyMap<string, Uint8Array>, opts: VerifyOptions): Promise<VerifiedSignature> {
  const byPath = new Map<string, Uint8Array>();
  for (const [name, data] of files) byPath.set(bundlePath(name), data);
  const raw = byPath.get(signaturesFileName);
  if (!raw) throw new BundleSignatureError(`bundle is not signed (no ${signaturesFileName})`);
  const token = parseSignatures(raw);

  const ids = unverifiedKeyId(token);
  const keyId = opts.keyId || ids.kid || ids.keyid || '';
  if (!keyId) throw new BundleSignatureError('verification key ID is empty');
  const keyConfig = opts.keys[keyId];
  if (!keyConfig) throw new BundleSignatureError(`verification key corresponding to ID ${keyId} not found`);
  if (!verificationAlgorithms.has(keyConfig.algorithm)) throw new BundleSignatureError(`unsupported signature algorithm ${keyConfig.algorithm}`);

  let payloadBytes: Uint8Array;
  try {
    const key = typeof keyConfig.key === 'string' ? createPublicKey(keyConfig.key) : keyConfig.key;
    ({ payload: payloadBytes } = await compactVerify(token, key, { algorithms: [keyConfig.algorithm] }));
  } catch (err) {
    throw new BundleSignatureError(`failed to verify the bundle signature with key ${keyId}: ${(err as Error).message}`);
  }
  const payload = parsePayload(payloadBytes);

  const scope = opts.scope || keyConfig.scope || '';
  if ((payload.scope ?? '') !== scope) throw new BundleSignatureError('scope mismatch');

  const signed = new Map(payload.files.map((f) => [f.name, f]));
  const excluded = new Set((opts.exclude ?? []).map(bundlePath));
  for (const [path, data] of byPath) {
    if (path === signaturesFileName) continue;
    if (excluded.has(path)) {
      signed.delete(path);
      continue;
    }
    const info = signed.get(path);
    if (!info) throw new BundleSignatureError(`file ${path} not included in bundle signature`);
    if (!info.algorithm) throw new BundleSignatureError(`no hashing algorithm provided for file ${path}`);
    const actual = bundleFileHash(path, data, info.algorithm);
    if (actual !== info.hash.toLowerCase()) throw new BundleSignatureError(`${path}: digest mismatch (want: ${info.hash}, got: ${actual})`);
    signed.delete(path);
  }
  if (signed.size > 0) {
    throw new BundleSignatureError(`file(s) ${[...signed.keys()].join(', ')} specified in bundle signatures but not found in the target bundle`);
  }
  return { keyId, payload };
}
