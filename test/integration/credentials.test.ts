// Upstream credentials against real peers: Secrets on the test kube-apiserver, and a real Vault
// dev server whose Kubernetes auth method reviews real service-account tokens with that API server.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialError, CredentialProvider, KubeSecretSource, VaultSource, createCredentialMetrics, credentialRedactPaths,
  type CredentialErrorReason,
} from '../../authorizer/src/credentials/index.ts';
import { startDevVault, type DevVault } from '../support/credentials.ts';
import type { GatewayServer } from '../../authorizer/src/gate/types.ts';
import { KubeClient, type ResourceRef } from '../../pkg/kube/client.ts';
import { binary } from '../harness/controlplane.ts';
import { clientFor, controlPlane, mintUser, uniqueName, waitFor, withNamespace } from '../harness/kube.ts';

const ns = withNamespace('creds');
const admin = new KubeClient(clientFor(controlPlane().adminKubeconfig).kc);
const secretAt = (name: string): ResourceRef => ({ group: '', version: 'v1', plural: 'secrets', namespace: ns, name });
const createSecret = (name: string, data: Record<string, string>) =>
  admin.create(secretAt(''), { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: data });
const server = (credentials: GatewayServer['credentials']): GatewayServer => ({ name: 'github', url: 'http://127.0.0.1:9/mcp', credentials });

async function refusal(p: Promise<unknown>, reason: CredentialErrorReason): Promise<CredentialError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof CredentialError)) throw err;
    expect(err.reason, err.message).toBe(reason);
    return err;
  }
  throw new Error(`expected a ${reason} CredentialError, got a value`);
}

/** A pino logger at trace level with the authorizer's credential redaction, writing to memory. */
function capturedLog() {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb(); } });
  const log = pino({ level: 'trace', redact: { paths: credentialRedactPaths, censor: '[REDACTED]' } }, sink);
  return { log, text: () => lines.join('') };
}

/** Everything an error could show: message, stack, own properties, and its JSON form. */
const everything = (err: CredentialError) => [err.message, err.stack ?? '', String(err), JSON.stringify(err), JSON.stringify(Object.entries(err))].join('\n');

describe('Kubernetes Secret source', () => {
  const secrets = new KubeSecretSource({ client: admin, ttlMs: 200, errorTtlMs: 50 });
  const provider = new CredentialProvider({ namespace: ns, secrets });

  it('reads a created Secret, follows updates, and names the Secret and key once it is deleted', async () => {
    const name = uniqueName('gh');
    const s = server({ secretRef: { name, key: 'token' } });
    const missing = await refusal(provider.headersFor(s), 'SecretNotFound');
    expect(missing.message).toBe(`credentials for server "github": Secret ${ns}/${name} not found`);

    await createSecret(name, { token: 'first-value', other: 'x' });
    expect(await waitFor(() => provider.headersFor(s), { description: 'the created Secret' })).toEqual({ Authorization: 'Bearer first-value' });

    await admin.mergePatch(secretAt(name), { stringData: { token: 'second-value' } });
    await waitFor(async () => (await provider.headersFor(s)).Authorization === 'Bearer second-value', { description: 'the updated value' });
    expect(await provider.headersFor(server({ secretRef: { name, key: 'token' }, header: 'X-Api-Key', scheme: '' }))).toEqual({ 'X-Api-Key': 'second-value' });

    const noKey = await refusal(provider.headersFor(server({ secretRef: { name, key: 'tokn' } })), 'KeyNotFound');
    expect(noKey.message).toContain(`Secret ${ns}/${name} has no key "tokn" (keys: "other", "token")`);

    await admin.delete(secretAt(name));
    const gone = await waitFor(() => provider.headersFor(s).then(() => undefined, (err: unknown) => err as CredentialError), { description: 'the deletion to show' });
    expect(gone.reason).toBe('SecretNotFound');
    expect(gone.message).toContain(`Secret ${ns}/${name} not found`);
  });

  it('refuses a value carrying a line break, and says which Secret it may not read', async () => {
    const name = uniqueName('crlf');
    await createSecret(name, { token: 'abc\r\nX-Injected: 1' });
    const err = await refusal(provider.headersFor(server({ secretRef: { name, key: 'token' } })), 'InvalidValue');
    expect(err.message).toContain(`Secret ${ns}/${name} key "token" contains a line break`);
    expect(err.message).not.toContain('X-Injected');

    const nobody = new KubeClient(clientFor(await mintUser(uniqueName('nobody'), [])).kc);
    const denied = new CredentialProvider({ namespace: ns, secrets: new KubeSecretSource({ client: nobody }) });
    const forbidden = await refusal(denied.headersFor(server({ secretRef: { name, key: 'token' } })), 'Forbidden');
    expect(forbidden.message).toContain(`may not read Secret ${ns}/${name}`);
  });

  it('keeps the value out of logs, metrics and errors', async () => {
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    const [good, bad] = [uniqueName('good'), uniqueName('bad')];
    await createSecret(good, { token: canary });
    await createSecret(bad, { token: `${canary}\nX-Evil: 1` });
    const { log, text } = capturedLog();
    const registry = new Registry();
    const p = new CredentialProvider({ namespace: ns, secrets: new KubeSecretSource({ client: admin }), log, metrics: createCredentialMetrics(registry) });

    const headers = await p.headersFor(server({ secretRef: { name: good, key: 'token' }, header: 'X-Api-Key' }));
    expect(headers['X-Api-Key']).toBe(`Bearer ${canary}`); // the value does flow where it must
    // What the proxy logs when it forwards a call.
    log.info({ upstreamHeaders: headers, req: { headers: { authorization: headers['X-Api-Key'] } } }, 'forwarding tools/call');
    const errors = [
      await refusal(p.headersFor(server({ secretRef: { name: bad, key: 'token' } })), 'InvalidValue'),
      await refusal(p.headersFor(server({ secretRef: { name: good, key: 'nope' } })), 'KeyNotFound'),
    ];

    const logs = text();
    expect(logs).toContain('upstream credential resolved');
    expect(logs).toContain('upstream credential unavailable');
    expect(logs).toContain('[REDACTED]');
    expect(logs).not.toContain(canary);
    for (const e of errors) expect(everything(e)).not.toContain(canary);
    const metrics = await registry.metrics();
    expect(metrics).toContain('toolgate_credential_lookups_total{source="secret",result="ok"} 1');
    expect(metrics).toContain('toolgate_credential_lookups_total{source="secret",result="InvalidValue"} 1');
    expect(metrics).not.toContain(canary);
  });
});

describe('Vault source (real Vault, Kubernetes auth against the test API server)', () => {
  let vault: DevVault;
  let dir: string;
  let jwtPath: string;
  let jwt: string;
  let binding: string | undefined;
  const role = 'toolgate-authorizer';
  const bindings = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings' };

  async function saToken(sa: string): Promise<string> {
    await admin.create({ group: '', version: 'v1', plural: 'serviceaccounts', namespace: ns }, { metadata: { name: sa } });
    const tr = await admin.create<{ status: { token: string } }>(
      { group: '', version: 'v1', plural: 'serviceaccounts', namespace: ns, name: sa, subresource: 'token' },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    );
    return tr.status.token;
  }

  beforeAll(async () => {
    vault = await startDevVault(await binary('vault'));
    console.log(`[toolgate] credentials: real Vault ${vault.version} at ${vault.endpoint}`);
    dir = await mkdtemp(join(tmpdir(), 'toolgate-creds-'));
    // Vault reviews login tokens with the TokenReview API as this service account.
    const reviewer = uniqueName('vault-reviewer');
    const reviewerJwt = await saToken(reviewer);
    binding = `${ns}-${reviewer}`;
    await admin.create(bindings, {
      metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: reviewer, namespace: ns }],
    });
    jwt = await saToken('authorizer');
    jwtPath = join(dir, 'token');
    await writeFile(jwtPath, jwt);

    const root = vault.root;
    await root.write('sys/auth/kubernetes', { type: 'kubernetes' });
    await root.write('auth/kubernetes/config', {
      kubernetes_host: controlPlane().server,
      kubernetes_ca_cert: await readFile(controlPlane().caCertPath, 'utf8'),
      token_reviewer_jwt: reviewerJwt,
    });
    await root.write('sys/policies/acl/mcp-read', { policy: 'path "secret/data/mcp/*" { capabilities = ["read"] }' });
    await root.write(`auth/kubernetes/role/${role}`, {
      bound_service_account_names: ['authorizer'], bound_service_account_namespaces: [ns], policies: ['mcp-read'], ttl: '1h',
    });
    await root.write('secret/data/mcp/github', { data: { token: 'vault-first', notString: 42 } });
    await root.write('secret/data/other/x', { data: { token: 'out-of-policy' } });
  });

  afterAll(async () => {
    await vault?.stop();
    if (binding) await admin.delete({ ...bindings, name: binding });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const github = (extra: { role?: string; path?: string; key?: string } = {}) =>
    server({ vault: { path: extra.path ?? 'secret/data/mcp/github', key: extra.key ?? 'token', role: extra.role ?? role } });

  it('logs in with a real service-account token, reads KV v2, and picks up a rotation after the TTL', async () => {
    const registry = new Registry();
    const metrics = createCredentialMetrics(registry);
    const provider = new CredentialProvider({ namespace: ns, vault: new VaultSource({ endpoint: vault.endpoint, jwtPath, ttlMs: 300, errorTtlMs: 50, metrics }) });
    const cachedLong = new VaultSource({ endpoint: vault.endpoint, jwtPath, ttlMs: 600_000 });
    expect(await provider.headersFor(github())).toEqual({ Authorization: 'Bearer vault-first' });
    expect(await cachedLong.value('secret/data/mcp/github', 'token', role)).toBe('vault-first');

    await vault.root.write('secret/data/mcp/github', { data: { token: 'vault-second', notString: 42 } });
    await waitFor(async () => (await provider.headersFor(github())).Authorization === 'Bearer vault-second', { description: 'the rotated Vault secret' });
    expect(await cachedLong.value('secret/data/mcp/github', 'token', role)).toBe('vault-first');
    // Re-reads reuse the token: exactly one login.
    expect(await registry.metrics()).toContain('toolgate_vault_logins_total{kind="login",result="ok"} 1');
  });

  it('says which role, path or field failed', async () => {
    const provider = new CredentialProvider({ namespace: ns, vault: new VaultSource({ endpoint: vault.endpoint, jwtPath }) });
    const wrongRole = await refusal(provider.headersFor(github({ role: 'no-such-role' })), 'VaultLogin');
    expect(wrongRole.message).toMatch(/^credentials for server "github": Vault login at auth\/kubernetes with role "no-such-role" failed \(HTTP 4\d\d\): /);
    expect((await refusal(provider.headersFor(github({ path: 'secret/data/mcp/absent' })), 'SecretNotFound')).message).toContain('Vault secret secret/data/mcp/absent not found');
    expect((await refusal(provider.headersFor(github({ key: 'tokn' })), 'KeyNotFound')).message).toContain('Vault secret secret/data/mcp/github has no field "tokn"');
    expect((await refusal(provider.headersFor(github({ key: 'notString' })), 'InvalidValue')).message).toContain('is not a string');
    expect((await refusal(provider.headersFor(github({ path: 'secret/data/other/x' })), 'Forbidden')).message).toContain(`Vault role "${role}" may not read secret/data/other/x`);
    const noRole = await refusal(provider.headersFor(server({ vault: { path: 'secret/data/mcp/github', key: 'token' } })), 'NotConfigured');
    expect(noRole.message).toContain('credentials.vault.role is not set');
    const badJwt = new CredentialProvider({ namespace: ns, vault: new VaultSource({ endpoint: vault.endpoint, jwtPath: join(dir, 'absent') }) });
    expect((await refusal(badJwt.headersFor(github()), 'VaultLogin')).message).toContain(`cannot read the service-account token for Vault login at ${join(dir, 'absent')}: ENOENT`);
  });

  it('renews its token as the lease nears its end, and logs in again once the token is revoked', async () => {
    const registry = new Registry();
    let skewMs = 0;
    const source = new VaultSource({ endpoint: vault.endpoint, jwtPath, metrics: createCredentialMetrics(registry), now: () => Date.now() + skewMs });
    const read = async () => { source.invalidate(); return source.value('secret/data/mcp/github', 'token', role); };
    expect(await read()).toMatch(/^vault-/);
    skewMs = 0.9 * 3600_000; // 90 % of the role's 1 h lease
    expect(await read()).toMatch(/^vault-/);
    // Revoking every token the auth method issued: the next read is refused, and the source logs in again.
    await vault.root.write('sys/leases/revoke-prefix/auth/kubernetes', {});
    expect(await read()).toMatch(/^vault-/);
    const m = await registry.metrics();
    expect(m).toContain('toolgate_vault_logins_total{kind="renew",result="ok"} 1');
    expect(m).toContain('toolgate_vault_logins_total{kind="login",result="ok"} 2');
  });

  it('keeps the value and the service-account token out of logs, metrics and errors', async () => {
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    await vault.root.write('secret/data/mcp/canary', { data: { token: canary, broken: `${canary}\r\nX-Evil: 1` } });
    const { log, text } = capturedLog();
    const registry = new Registry();
    const metrics = createCredentialMetrics(registry);
    const provider = new CredentialProvider({ namespace: ns, log, metrics, vault: new VaultSource({ endpoint: vault.endpoint, jwtPath, metrics }) });
    const headers = await provider.headersFor(github({ path: 'secret/data/mcp/canary' }));
    expect(headers.Authorization).toBe(`Bearer ${canary}`);
    log.info({ upstreamHeaders: headers }, 'forwarding tools/call');
    const errors = [
      await refusal(provider.headersFor(github({ path: 'secret/data/mcp/canary', key: 'broken' })), 'InvalidValue'),
      await refusal(provider.headersFor(github({ path: 'secret/data/mcp/canary', role: 'no-such-role' })), 'VaultLogin'),
    ];
    const logs = text();
    expect(logs).toContain('upstream credential resolved');
    expect(logs).toContain('[REDACTED]');
    for (const secret of [canary, jwt]) {
      expect(logs).not.toContain(secret);
      for (const e of errors) expect(everything(e)).not.toContain(secret);
      expect(await registry.metrics()).not.toContain(secret);
    }
  });
});
