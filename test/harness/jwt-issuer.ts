// A real OAuth/OIDC token issuer for tests: jose-generated keys, the JWKS and discovery
// documents served over loopback HTTP, key rotation, and hostile tokens built the way an
// attacker would build them (alg none, HS256 keyed with the RSA public key, JWE, unknown or
// borrowed kid, tampered payload). Fetches are counted so tests can prove caching.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  EncryptJWT, SignJWT, UnsecuredJWT, base64url, exportJWK, exportSPKI, generateKeyPair,
  type CryptoKey, type JWK, type JWTPayload,
} from 'jose';

export type TestAlg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface IssuerKey {
  kid: string;
  alg: TestAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** SPKI PEM of the public key: what an HS/RS confusion attack uses as the HMAC secret. */
  publicPem: string;
}

export async function generateIssuerKey(alg: TestAlg, kid = `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

export interface MintOptions {
  alg?: TestAlg;
  /** Sign with this key (published or not); default: the newest published key for alg. */
  key?: IssuerKey;
  /** kid put in the header; default the key's kid. `null` leaves kid out. */
  kid?: string | null;
  /** Seconds from iat to exp. Default 300. */
  lifetime?: number;
  /** Seconds since the epoch; default now. */
  iat?: number;
  /** Claims to leave out of the default set (exp, iat, iss, aud, sub, jti). */
  omit?: string[];
  header?: Record<string, unknown>;
}

export interface StartIssuerOptions {
  /** Path part of the issuer identifier (e.g. `/realms/test`); default none. */
  path?: string;
  /** Default `aud` of minted tokens. */
  audience?: string;
  /** Which discovery documents to serve. Default both. */
  discovery?: { openid?: boolean; oauth?: boolean };
  /** Keys published at start. Default one RS256 and one ES256. */
  algs?: TestAlg[];
  /** Serve HTTPS with this certificate (PEM) instead of HTTP: what a Kubernetes API server's OIDC authenticator demands. */
  tls?: { cert: string; key: string };
}

export interface TestIssuer {
  /** Issuer identifier (`iss`). */
  issuer: string;
  jwksUri: string;
  audience: string;
  /** Requests served, by document. */
  fetches: { jwks: number; openid: number; oauth: number };
  /** Published keys, oldest first. */
  keys: IssuerKey[];
  /** Publish a new key (rotation step 1). */
  addKey(alg: TestAlg, kid?: string): Promise<IssuerKey>;
  /** Stop publishing a key (rotation step 2). */
  retireKey(kid: string): void;
  /** Answer JWKS requests with this HTTP status (0 restores normal service). */
  failJwks(status: number): void;
  /** Claim another `issuer` in the discovery documents (mix-up attack). */
  discoveryIssuer: string | undefined;
  mint(claims?: JWTPayload, opts?: MintOptions): Promise<string>;
  hostile: Hostile;
  close(): Promise<void>;
}

export interface Hostile {
  /** `alg: none`, no signature. */
  unsecured(claims?: JWTPayload): Promise<string>;
  /** HS256 with the RSA public key's PEM as HMAC secret and that key's kid (algorithm confusion). */
  hsWithPublicKey(claims?: JWTPayload): Promise<string>;
  /** A JWE (5 segments) carrying the claims. */
  encrypted(claims?: JWTPayload): Promise<string>;
  /** Signed by an unpublished key with a kid the JWKS does not have. */
  unknownKid(claims?: JWTPayload, alg?: TestAlg): Promise<string>;
  /** Signed by an unpublished key that borrows a published key's kid. */
  borrowedKid(claims?: JWTPayload): Promise<string>;
  /** ES256 signature whose kid names a published RSA key (key type must match alg). */
  algKeyMismatch(claims?: JWTPayload): Promise<string>;
  /** A valid token whose payload is changed after signing. */
  tampered(claims?: JWTPayload, changes?: JWTPayload): Promise<string>;
}

export async function startJwtIssuer(options: StartIssuerOptions = {}): Promise<TestIssuer> {
  const path = (options.path ?? '').replace(/\/+$/, '');
  const serveOpenid = options.discovery?.openid ?? true;
  const serveOauth = options.discovery?.oauth ?? true;
  const fetches = { jwks: 0, openid: 0, oauth: 0 };
  const keys: IssuerKey[] = [];
  for (const alg of options.algs ?? ['RS256', 'ES256']) keys.push(await generateIssuerKey(alg));
  let jwksStatus = 0;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const discoveryDoc = () => ({
      issuer: issuer.discoveryIssuer ?? issuer.issuer,
      jwks_uri: issuer.jwksUri,
      token_endpoint: `${issuer.issuer}/token`,
      authorization_endpoint: `${issuer.issuer}/authorize`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))],
    });
    const url = req.url ?? '/';
    if (url === `${path}/jwks`) {
      fetches.jwks++;
      if (jwksStatus) return json(jwksStatus, { error: 'unavailable' });
      return json(200, { keys: keys.map((k) => k.publicJwk) });
    }
    if (serveOpenid && url === `${path}/.well-known/openid-configuration`) {
      fetches.openid++;
      return json(200, discoveryDoc());
    }
    if (serveOauth && url === `/.well-known/oauth-authorization-server${path}`) {
      fetches.oauth++;
      return json(200, discoveryDoc());
    }
    json(404, { error: 'not_found' });
  };
  const server: Server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const newest = (alg: TestAlg) => {
    const k = keys.findLast((x) => x.alg === alg);
    if (!k) throw new Error(`issuer publishes no ${alg} key`);
    return k;
  };
  const claimsFor = (claims: JWTPayload, opts: MintOptions): JWTPayload => {
    const iat = opts.iat ?? Math.floor(Date.now() / 1000);
    const base: JWTPayload = {
      iss: issuer.issuer, aud: issuer.audience, sub: 'user:alice', iat, exp: iat + (opts.lifetime ?? 300), jti: randomUUID(),
    };
    for (const c of opts.omit ?? []) delete base[c];
    return { ...base, ...claims };
  };
  const sign = (claims: JWTPayload, opts: MintOptions, key: IssuerKey) => {
    const kid = opts.kid === null ? undefined : (opts.kid ?? key.kid);
    return new SignJWT(claimsFor(claims, opts))
      .setProtectedHeader({ typ: 'JWT', ...opts.header, alg: key.alg, ...(kid ? { kid } : {}) })
      .sign(key.privateKey);
  };

  const issuer: TestIssuer = {
    issuer: `${origin}${path}`,
    jwksUri: `${origin}${path}/jwks`,
    audience: options.audience ?? 'https://gateway.test/mcp',
    fetches,
    keys,
    discoveryIssuer: undefined,
    async addKey(alg, kid) {
      const k = await generateIssuerKey(alg, kid);
      keys.push(k);
      return k;
    },
    retireKey(kid) {
      const i = keys.findIndex((k) => k.kid === kid);
      if (i < 0) throw new Error(`no published key ${kid}`);
      keys.splice(i, 1);
    },
    failJwks(status) { jwksStatus = status; },
    mint(claims = {}, opts = {}) {
      return sign(claims, opts, opts.key ?? newest(opts.alg ?? 'RS256'));
    },
    hostile: {
      unsecured: async (claims = {}) => new UnsecuredJWT(claimsFor(claims, {})).encode(),
      async hsWithPublicKey(claims = {}) {
        const rsa = newest('RS256');
        return new SignJWT(claimsFor(claims, {}))
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })
          .sign(new TextEncoder().encode(rsa.publicPem));
      },
      async encrypted(claims = {}) {
        return new EncryptJWT(claimsFor(claims, {})).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(randomBytes(32));
      },
      async unknownKid(claims = {}, alg = 'RS256') {
        return sign(claims, { kid: `unpublished-${randomBytes(4).toString('hex')}` }, await generateIssuerKey(alg));
      },
      async borrowedKid(claims = {}) {
        return sign(claims, { kid: newest('RS256').kid }, await generateIssuerKey('RS256'));
      },
      async algKeyMismatch(claims = {}) {
        return sign(claims, { kid: newest('RS256').kid }, await generateIssuerKey('ES256'));
      },
      async tampered(claims = {}, changes = { sub: 'user:mallory' }) {
        const [h, p, s] = (await issuer.mint(claims)).split('.');
        const payload = { ...JSON.parse(new TextDecoder().decode(base64url.decode(p ?? ''))), ...changes };
        return `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
      },
    },
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
  return issuer;
}
