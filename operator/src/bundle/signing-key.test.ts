import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KubeError, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { buildBundle, openBundle } from '../../../pkg/bundle/bundle.ts';
import { loadOrCreateSigningKey, signerFor } from './signing-key.ts';

interface Secret { metadata: { name: string; namespace?: string; labels?: Record<string, string> }; type?: string; data?: Record<string, string> }

/** An in-memory stand-in for the Secrets API with a hook to simulate another replica. */
function fakeClient(opts: { beforeCreate?: (secrets: Map<string, Secret>) => void; getError?: KubeError } = {}) {
  const secrets = new Map<string, Secret>();
  const calls: string[] = [];
  const client = {
    get: (r: ResourceRef) => {
      calls.push(`get ${r.namespace}/${r.name}`);
      if (opts.getError) return Promise.reject(opts.getError);
      const s = secrets.get(`${r.namespace}/${r.name}`);
      return s ? Promise.resolve(structuredClone(s)) : Promise.reject(new KubeError(404, 'NotFound', 'secrets not found'));
    },
    create: (r: ResourceRef, body: Secret) => {
      calls.push(`create ${r.namespace}/${body.metadata.name}`);
      opts.beforeCreate?.(secrets);
      const key = `${r.namespace}/${body.metadata.name}`;
      if (secrets.has(key)) return Promise.reject(new KubeError(409, 'AlreadyExists', 'secrets already exists'));
      secrets.set(key, structuredClone(body));
      return Promise.resolve(structuredClone(body));
    },
  };
  return { client: client as unknown as KubeClient, secrets, calls };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
function secretFor(name: string, privatePem: string, publicPem?: string): Secret {
  return { metadata: { name, namespace: 'toolgate-system' }, type: 'Opaque', data: { 'private.pem': b64(privatePem), ...(publicPem ? { 'public.pem': b64(publicPem) } : {}) } };
}

describe('loadOrCreateSigningKey', () => {
  it('creates an RSA-2048 key Secret when there is none, and reuses it afterwards', async () => {
    const { client, secrets, calls } = fakeClient();
    const first = await loadOrCreateSigningKey({ client, namespace: 'toolgate-system' });
    expect(first.created).toBe(true);
    expect(first.algorithm).toBe('RS256');
    expect(first.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const stored = secrets.get('toolgate-system/toolgate-bundle-signing');
    expect(stored?.type).toBe('Opaque');
    expect(stored?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('toolgate-operator');
    expect(Buffer.from(stored?.data?.['private.pem'] ?? '', 'base64').toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(Buffer.from(stored?.data?.['public.pem'] ?? '', 'base64').toString()).toBe(first.publicKeyPem);

    const second = await loadOrCreateSigningKey({ client, namespace: 'toolgate-system' });
    expect(second.created).toBe(false);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    expect(second.thumbprint).toBe(first.thumbprint);
    expect(calls).toEqual(['get toolgate-system/toolgate-bundle-signing', 'create toolgate-system/toolgate-bundle-signing', 'get toolgate-system/toolgate-bundle-signing']);

    // The loaded key signs bundles that verify with the stored public key.
    const bundle = await buildBundle({ data: { toolgate: {} }, roots: ['toolgate'], signer: signerFor(second) });
    await expect(openBundle(bundle.archive, { verify: { keys: { toolgate: { key: second.publicKeyPem, algorithm: 'RS256' } } } })).resolves.toBeDefined();
  });

  it('adopts the key of a replica that created the Secret first (AlreadyExists)', async () => {
    const winner = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const winnerPublic = winner.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const { client, calls } = fakeClient({
      beforeCreate: (secrets) => {
        if (!secrets.size) secrets.set('toolgate-system/toolgate-bundle-signing', secretFor('toolgate-bundle-signing', winner.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), winnerPublic));
      },
    });
    const material = await loadOrCreateSigningKey({ client, namespace: 'toolgate-system' });
    expect(material.created).toBe(false);
    expect(material.publicKeyPem).toBe(winnerPublic);
    expect(calls).toHaveLength(3);
  });

  it('loads EC P-256 keys as ES256 and tolerates a missing public.pem', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { client, secrets } = fakeClient();
    secrets.set('ns/custom', secretFor('custom', ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString()));
    const material = await loadOrCreateSigningKey({ client, namespace: 'ns', secretName: 'custom', keyId: 'k1' });
    expect(material).toMatchObject({ algorithm: 'ES256', keyId: 'k1', created: false });
    expect(material.publicKeyPem).toBe(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  });

  it('refuses unusable Secrets rather than signing with a key nobody can verify', async () => {
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const b = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pkcs8 = (k: typeof a.privateKey) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
    const cases: [Secret, RegExp][] = [
      [secretFor('s', pkcs8(a.privateKey), b.publicKey.export({ type: 'spki', format: 'pem' }).toString()), /public\.pem does not belong to private\.pem/],
      [secretFor('s', 'not a key'), /private\.pem is not a PEM private key/],
      [{ metadata: { name: 's' }, data: {} }, /has no private\.pem/],
      [secretFor('s', pkcs8(small.privateKey)), /shorter than 2048 bits/],
      [secretFor('s', pkcs8(generateKeyPairSync('ed25519').privateKey)), /unsupported signing key type ed25519/],
    ];
    for (const [secret, message] of cases) {
      const { client, secrets } = fakeClient();
      secrets.set('ns/s', secret);
      await expect(loadOrCreateSigningKey({ client, namespace: 'ns', secretName: 's' })).rejects.toThrow(message);
    }
  });

  it('does not create a key when the read fails for another reason', async () => {
    const { client, calls } = fakeClient({ getError: new KubeError(403, 'Forbidden', 'secrets is forbidden') });
    await expect(loadOrCreateSigningKey({ client, namespace: 'ns' })).rejects.toThrow(/forbidden/);
    expect(calls).toEqual(['get ns/toolgate-bundle-signing']);
  });
});
