// The bundle signing key lives in a Secret in the operator's namespace (keys private.pem and
// public.pem), so every replica signs with the same key and authorizers can be given the
// public half. The first replica to start generates it; replicas racing to do so settle on
// whichever create won (AlreadyExists → read the winner's).
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../../pkg/kube/client.ts';
import type { Logger } from '../../../pkg/observability/log.ts';
import type { BundleSigner, SigningAlgorithm } from '../../../pkg/bundle/sign.ts';

export const defaultSigningSecretName = 'toolgate-bundle-signing';
export const defaultSigningKeyId = 'toolgate';
export const privateKeyField = 'private.pem';
export const publicKeyField = 'public.pem';

export interface SigningKeyOptions {
  client: KubeClient;
  namespace: string;
  secretName?: string;
  /** The key id written into signatures (JWS kid); OPA's `keys` section must use the same. */
  keyId?: string;
  fieldManager?: string;
  log?: Logger;
}

export interface SigningKeyMaterial {
  privateKey: KeyObject;
  publicKeyPem: string;
  algorithm: SigningAlgorithm;
  keyId: string;
  /** RFC 7638 thumbprint of the public key: names the key in logs without revealing anything. */
  thumbprint: string;
  secretName: string;
  /** True when this call generated the key. */
  created: boolean;
}

interface Secret {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

const generateKeyPairP = promisify(generateKeyPair);

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

function algorithmFor(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new SigningKeyError('the RSA signing key is shorter than 2048 bits');
    return 'RS256';
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new SigningKeyError(`unsupported signing key type ${key.asymmetricKeyType ?? 'unknown'} (use RSA ≥ 2048 bits or EC P-256)`);
}

function spkiPem(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'pem' }).toString();
}

async function materialFrom(secret: Secret, opts: SigningKeyOptions, secretName: string, created: boolean): Promise<SigningKeyMaterial> {
  const where = `Secret ${opts.namespace}/${secretName}`;
  const privateB64 = secret.data?.[privateKeyField];
  if (!privateB64) throw new SigningKeyError(`${where} has no ${privateKeyField}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(Buffer.from(privateB64, 'base64'));
  } catch (err) {
    throw new SigningKeyError(`${where}: ${privateKeyField} is not a PEM private key (${(err as Error).message})`);
  }
  const algorithm = algorithmFor(privateKey);
  const publicKeyPem = spkiPem(privateKey);
  const storedPublic = secret.data?.[publicKeyField];
  if (storedPublic) {
    let stored: string;
    try {
      stored = spkiPem(createPublicKey(Buffer.from(storedPublic, 'base64')));
    } catch (err) {
      throw new SigningKeyError(`${where}: ${publicKeyField} is not a PEM public key (${(err as Error).message})`);
    }
    // Authorizers verify with public.pem: a mismatch would make every bundle fail verification.
    if (stored !== publicKeyPem) throw new SigningKeyError(`${where}: ${publicKeyField} does not belong to ${privateKeyField}`);
  } else {
    opts.log?.warn({ secret: secretName }, `signing key Secret has no ${publicKeyField}; using the public key derived from ${privateKeyField}`);
  }
  const thumbprint = await calculateJwkThumbprint(await exportJWK(createPublicKey(privateKey)));
  return { privateKey, publicKeyPem, algorithm, keyId: opts.keyId ?? defaultSigningKeyId, thumbprint, secretName, created };
}

async function newSecret(namespace: string, name: string): Promise<Secret & { apiVersion: string; kind: string }> {
  const { privateKey, publicKey } = await generateKeyPairP('rsa', { modulusLength: 2048 });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'toolgate-operator', 'app.kubernetes.io/component': 'bundle-signing' },
    },
    type: 'Opaque',
    data: {
      [privateKeyField]: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })).toString('base64'),
      [publicKeyField]: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64'),
    },
  };
}

/** Loads the signing key from its Secret, generating an RSA-2048 key into a new Secret if there is none. */
export async function loadOrCreateSigningKey(opts: SigningKeyOptions): Promise<SigningKeyMaterial> {
  const secretName = opts.secretName ?? defaultSigningSecretName;
  const ref = { group: '', version: 'v1', plural: 'secrets', namespace: opts.namespace };
  try {
    const existing = await opts.client.get<Secret>({ ...ref, name: secretName });
    return await materialFrom(existing, opts, secretName, false);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const secret = await newSecret(opts.namespace, secretName);
  try {
    const created = await opts.client.create<Secret>(ref, secret, opts.fieldManager ?? 'toolgate-operator');
    const material = await materialFrom(created.data ? created : secret, opts, secretName, true);
    opts.log?.info({ secret: secretName, namespace: opts.namespace, thumbprint: material.thumbprint }, 'generated a new bundle signing key');
    return material;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // Another replica created it between our read and our create: use theirs.
    const winner = await opts.client.get<Secret>({ ...ref, name: secretName });
    return await materialFrom(winner, opts, secretName, false);
  }
}

/** The signer for buildBundle. */
export function signerFor(material: SigningKeyMaterial): BundleSigner {
  return { key: material.privateKey, algorithm: material.algorithm, keyId: material.keyId };
}
