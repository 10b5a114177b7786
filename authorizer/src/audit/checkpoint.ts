// Signed checkpoints: every so often (records or time, whichever comes first, and on close) the
// trail appends a checkpoint line whose compact JWS signs {instance, index, seq, prev}: the
// chain up to the line before it. A hash chain alone cannot show whole lines cut from the END
// of a trail, nor a trail rebuilt from scratch by whoever can write the file; a signature by a
// key the agent never sees (a Secret mounted into the authorizer only) can. The verifier says
// "intact to checkpoint N (seq S)" and names records after the last checkpoint as unsealed.
//
// The key: a PKCS#8 PEM private key, EC P-256 (ES256) or Ed25519 (EdDSA), from the file
// AUDIT_SIGNING_KEY_FILE (authorizer/src/config.ts documents the env names); its key id is
// AUDIT_SIGNING_KEY_ID or, by default, the RFC 7638 thumbprint of its public key. Verifiers get
// the public key (SPKI PEM) with `kubectl mcp audit verify --key FILE`.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, CompactSign, compactVerify, decodeProtectedHeader, exportJWK } from 'jose';
import { canonicalJson } from '../../../pkg/json/canonical.ts';

export const checkpointType = 'toolgate-audit-checkpoint+jws';

export interface CheckpointSigner {
  alg: 'ES256' | 'EdDSA';
  keyId: string;
  key: KeyObject;
}

/** What a checkpoint's signature covers. */
export interface CheckpointPayload {
  instance: string;
  index: number;
  /** The checkpoint line's own seq. */
  seq: number;
  /** The hash of the line before it (its prev). */
  prev: string;
}

function algOf(key: KeyObject, what: string): 'ES256' | 'EdDSA' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`${what}: a ${key.asymmetricKeyType ?? 'symmetric'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''} key; audit checkpoints are signed with EC P-256 (ES256) or Ed25519 (EdDSA)`);
}

export async function keyIdOf(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}

export async function signerFromPem(pem: string, what: string, keyId?: string): Promise<CheckpointSigner> {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${what}: not a PEM private key (${(err as Error).message})`, { cause: err });
  }
  return { alg: algOf(key, what), key, keyId: keyId ?? (await keyIdOf(createPublicKey(key))) };
}

export async function loadSigner(file: string, keyId?: string): Promise<CheckpointSigner> {
  return signerFromPem(await readFile(file, 'utf8'), `audit signing key ${file}`, keyId);
}

export async function signCheckpoint(s: CheckpointSigner, p: CheckpointPayload): Promise<string> {
  return new CompactSign(new TextEncoder().encode(canonicalJson(p))).setProtectedHeader({ alg: s.alg, kid: s.keyId, typ: checkpointType }).sign(s.key);
}

/** Public keys a verifier trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

export async function trustedKeysFromPem(pems: ReadonlyArray<{ pem: string; what: string }>): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const { pem, what } of pems) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw new Error(`${what}: not a PEM public (or private) key (${(err as Error).message})`, { cause: err });
    }
    algOf(key, what);
    keys.set(await keyIdOf(key), key);
  }
  return keys;
}

/** Checks a checkpoint's JWS against the trusted keys and the line it sits on; returns what is wrong. */
export async function checkCheckpoint(jws: string, expected: CheckpointPayload & { keyId: string }, keys: TrustedKeys | undefined): Promise<string | undefined> {
  let header;
  try {
    header = decodeProtectedHeader(jws);
  } catch (err) {
    return `its signature is not a JWS (${(err as Error).message})`;
  }
  if (header.typ !== checkpointType) return `its signature has typ ${JSON.stringify(header.typ)}, expected ${JSON.stringify(checkpointType)}`;
  if (header.kid !== expected.keyId) return `its signature names key ${JSON.stringify(header.kid)} but the line says ${JSON.stringify(expected.keyId)}`;
  if (keys) {
    const key = keys.get(expected.keyId);
    if (!key) return `signed by key ${expected.keyId}, which is not among the trusted keys (${[...keys.keys()].join(', ') || 'none'})`;
    try {
      const { payload } = await compactVerify(jws, key, { algorithms: ['ES256', 'EdDSA'] });
      const { keyId: _keyId, ...want } = expected;
      if (new TextDecoder().decode(payload) !== canonicalJson(want)) return 'its signature covers another place in the chain (instance, index, seq or prev differ): it was copied from elsewhere or the chain rebuilt';
    } catch (err) {
      return `its signature does not verify with key ${expected.keyId} (${(err as Error).message})`;
    }
  }
  return undefined;
}
