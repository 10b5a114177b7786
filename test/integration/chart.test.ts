// The Helm chart as users meet it: `helm lint --strict`; values checked by values.schema.json
// (a wrong type or unknown key fails naming the value); the rendering valid for kubeconform
// -strict against schemas written from the real API server's OpenAPI, and accepted by that
// server in a server-side dry run with every optional part on; the completeness the issue asks
// for (PDBs, NetworkPolicies, startup probes, drain timing); and one release per cluster: a
// second release is refused at install, naming the first.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../pkg/kube/client.ts';
import { binDir } from '../harness/controlplane.ts';
import { clientFor, controlPlane, uniqueName } from '../harness/kube.ts';
import { writeKubeconformSchemas } from '../support/kube-json-schemas.ts';
import { shippedContainer } from '../support/shipped-container.ts';

const root = join(import.meta.dirname, '..', '..');
const env = controlPlane();
const admin = new KubeClient(clientFor(env.adminKubeconfig).kc);
const kubeVersion = '1.34.0';
const run = (bin: string, args: string[], input?: string) => spawnSync(join(binDir(), bin), args, { cwd: root, encoding: 'utf8', input });
const helm = (...args: string[]) => run('helm', args);
const template = (namespace: string, ...set: string[]) => {
  const r = helm('template', 'toolgate', 'charts/toolgate', '--namespace', namespace, '--kube-version', kubeVersion, ...set);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.stdout;
};
type Obj = { kind: string; metadata: { name: string; namespace?: string }; spec?: unknown };
/** The value at a dotted path of a rendered manifest (`-1` is the last item); undefined when absent. */
const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => {
  if (Array.isArray(v)) return v.at(Number(k));
  return v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
}, o);
const envOf = (pod: unknown) => Object.fromEntries((get(pod, 'containers.0.env') as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
const objects = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter(Boolean);
const auditOn = ['--set', 'authorizer.audit.persistence.enabled=true', '--set', 'authorizer.audit.persistence.existingClaim=toolgate-audit',
  '--set', 'authorizer.audit.signingKey.secretName=toolgate-audit-signing', '--set', 'authorizer.audit.digestKey.secretName=toolgate-audit-digest'];
const everythingOn = ['--set', 'namespace.create=true', '--set', 'approvals.webhook.enabled=true', '--set', 'bundleTls.certManager.enabled=true', ...auditOn];

let ns: string;
let schemaDir: string;

beforeAll(async () => {
  ns = uniqueName('chart');
  await admin.apply({ group: '', version: 'v1', plural: 'namespaces', name: ns }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, 'chart-test');
  schemaDir = mkdtempSync(join(tmpdir(), 'toolgate-kube-schemas-'));
  const written = await writeKubeconformSchemas((path) => admin.request('GET', path), schemaDir);
  expect(written).toBeGreaterThan(50);
});

afterAll(async () => {
  if (schemaDir) rmSync(schemaDir, { recursive: true, force: true });
  await admin.delete({ group: '', version: 'v1', plural: 'namespaces', name: ns }).catch(() => undefined);
});

describe('chart checks', () => {
  it('helm lint --strict passes, with the optional parts off and on', () => {
    for (const set of [[], [...everythingOn, '--set', 'serviceMonitor.enabled=true']]) {
      const r = helm('lint', '--strict', '--kube-version', kubeVersion, 'charts/toolgate', ...set);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it.each([
    [['--set', 'operator.replicas=two'], "at '/operator/replicas': got string, want integer"],
    [['--set', 'authorizer.replicaz=3'], "at '/authorizer': additional properties 'replicaz' not allowed"],
    [['--set', 'image.pullPolicy=Sometimes'], "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"],
    [['--set', 'authorizer.policies[0]=no-namespace'], "at '/authorizer/policies/0': 'no-namespace' does not match pattern"],
    [['--set-json', 'networkPolicy.clients=[]'], "at '/networkPolicy/clients': minItems: got 0, want 1"],
    [['--set', 'authorizer.shutdown.drainSeconds=-1'], "at '/authorizer/shutdown/drainSeconds': minimum: got -1, want 0"],
    [['--set', 'authorizer.audit.signingKey.secretName=Audit_Key'], "at '/authorizer/audit/signingKey/secretName': 'Audit_Key' does not match pattern"],
    [['--set', 'authorizer.audit.persistence.claim=x'], "at '/authorizer/audit/persistence': additional properties 'claim' not allowed"],
  ])('values %j are refused: %s', (set, message) => {
    const r = helm('template', 'toolgate', 'charts/toolgate', '--kube-version', kubeVersion, ...set);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toContain(message);
  });

  it('kubeconform -strict accepts the rendering (schemas from the live API server)', () => {
    // cert-manager's and the Prometheus Operator's kinds have no schema here.
    const rendered = template(ns, '--set', 'namespace.create=true', '--set', 'approvals.webhook.enabled=true', ...auditOn);
    const r = run('kubeconform', ['-strict', '-summary', '-schema-location', join(schemaDir, '{{.ResourceKind}}{{.KindSuffix}}.json'), '-'], rendered);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Summary: (\d+) resources found parsing stdin - Valid: \1, Invalid: 0, Errors: 0, Skipped: 0/);
    // The schemas are strict: a misspelt field fails.
    const broken = rendered.replace('terminationGracePeriodSeconds:', 'terminationGracePeriodSecond:');
    const bad = run('kubeconform', ['-strict', '-schema-location', join(schemaDir, '{{.ResourceKind}}{{.KindSuffix}}.json'), '-'], broken);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/terminationGracePeriodSecond/);
  });

  it('the API server accepts every object in a server-side dry run (optional parts on; ServiceMonitor and Certificate aside: no CRDs for them here)', () => {
    const rendered = template(ns, '--set', 'namespace.create=true', '--set', 'approvals.webhook.enabled=true', ...auditOn);
    const out = execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', env.adminKubeconfig, 'apply', '--server-side', '--dry-run=server', '--force-conflicts', '--field-manager=chart-test', '-f', '-'], { cwd: root, encoding: 'utf8', input: rendered, stdio: ['pipe', 'pipe', 'pipe'] });
    const applied = out.split('\n').filter((l) => l.endsWith('serverside-applied (server dry run)'));
    expect(applied).toHaveLength(objects(rendered).length);
    expect(out).toMatch(/networkpolicy.networking.k8s.io\/toolgate-authorizer serverside-applied \(server dry run\)/);
    expect(out).toMatch(/poddisruptionbudget.policy\/toolgate-authorizer serverside-applied \(server dry run\)/);
    expect(out).toMatch(/statefulset.apps\/toolgate-authorizer serverside-applied \(server dry run\)/);
  });
});

describe('chart completeness', () => {
  const rendered = () => objects(template('toolgate-system', ...everythingOn, '--set', 'serviceMonitor.enabled=true', '--set-json', 'serviceMonitor.labels={"release":"prom"}'));
  const find = (kind: string, name: string) => rendered().find((o) => o.kind === kind && o.metadata.name === name)!;

  it('both components: a PDB of one, startup probes, anti-affinity and spread for their two replicas', () => {
    for (const [kind, name, component] of [['Deployment', 'toolgate-operator', 'operator'], ['StatefulSet', 'toolgate-authorizer', 'authorizer']] as const) {
      expect(find('PodDisruptionBudget', name).spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'toolgate', 'app.kubernetes.io/component': component } } });
      const pod = get(find(kind, name), 'spec.template.spec');
      expect(get(pod, 'containers.0.startupProbe')).toMatchObject({ httpGet: { path: '/healthz', port: 'probes' } });
      expect(get(pod, 'affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.podAffinityTerm.topologyKey')).toBe('kubernetes.io/hostname');
      expect(get(pod, 'topologySpreadConstraints.0')).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { 'app.kubernetes.io/component': component } } });
      expect(get(pod, 'containers.0.resources')).toMatchObject({ requests: { cpu: expect.any(String), memory: expect.any(String) }, limits: { memory: expect.any(String) } });
    }
  });

  it('the authorizer\'s grace period covers its readiness delay and drain, both from values', () => {
    const pod = (set: string[]) => get(objects(template('toolgate-system', ...set)).find((o) => o.kind === 'StatefulSet'), 'spec.template.spec');
    expect(get(pod([]), 'terminationGracePeriodSeconds')).toBe(30);
    expect(envOf(pod([]))).toMatchObject({ SHUTDOWN_DELAY_SECONDS: '5', DRAIN_TIMEOUT_SECONDS: '20' });
    const custom = pod(['--set', 'authorizer.shutdown.delaySeconds=10', '--set', 'authorizer.shutdown.drainSeconds=120']);
    expect(get(custom, 'terminationGracePeriodSeconds')).toBe(135);
    expect(envOf(custom)).toMatchObject({ SHUTDOWN_DELAY_SECONDS: '10', DRAIN_TIMEOUT_SECONDS: '120' });
  });

  it('with its default values each pod runs what config/ runs: the same command (node flags) and environment', () => {
    // The chart templates some of config/'s settings from values.yaml (workers, NODE_OPTIONS, drain
    // times): a default there that drifts from config/ would ship a pod the benchmarks never measured.
    const rendered = objects(template('toolgate-system'));
    for (const [component, kind] of [['operator', 'Deployment'], ['authorizer', 'StatefulSet']] as const) {
      const spec = get(rendered.find((o) => o.kind === kind && (get(o, 'spec.template.spec.containers.0.name') === component)), 'spec.template.spec');
      const container = get(spec, 'containers.0') as { command?: string[]; env?: unknown[] };
      const shipped = shippedContainer(component);
      expect(container.command, `${component}'s command`).toEqual(shipped.command);
      expect(container.env, `${component}'s environment`).toEqual(shipped.env);
    }
  });

  it('the authorizer\'s policy worker threads come from values', () => {
    const pod = (set: string[]) => get(objects(template('toolgate-system', ...set)).find((o) => o.kind === 'StatefulSet'), 'spec.template.spec');
    expect(envOf(pod([]))).toMatchObject({ AUTHORIZER_WORKERS: '1' });
    expect(envOf(pod(['--set', 'authorizer.workers=0']))).toMatchObject({ AUTHORIZER_WORKERS: '0' });
  });

  it('NetworkPolicies: the authorizer from the client namespaces only, the bundles port from authorizers only', () => {
    const authorizer = find('NetworkPolicy', 'toolgate-authorizer');
    expect(get(authorizer, 'spec.ingress.0')).toEqual({ from: [{ namespaceSelector: { matchLabels: { 'toolgate.io/mcp-clients': 'true' } } }], ports: [{ port: 'http' }, { port: 'grpc' }] });
    expect(get(authorizer, 'spec.egress.-1')).toEqual({});
    expect(get(find('NetworkPolicy', 'toolgate-operator'), 'spec.ingress.0')).toEqual({ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'toolgate', 'app.kubernetes.io/component': 'authorizer' } } }], ports: [{ port: 'bundles' }] });
    const narrowed = objects(template('toolgate-system', '--set-json', 'networkPolicy.upstreams=[{"to":[{"ipBlock":{"cidr":"10.1.0.0/16"}}],"ports":[{"port":8080}]}]'))
      .find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'toolgate-authorizer');
    expect(get(narrowed, 'spec.egress.-1')).toEqual({ to: [{ ipBlock: { cidr: '10.1.0.0/16' } }], ports: [{ port: 8080 }] });
    expect(objects(template('toolgate-system', '--set', 'networkPolicy.enabled=false')).some((o) => o.kind === 'NetworkPolicy')).toBe(false);
  });

  it('Secrets by name: bundle TLS in both pods, the chat webhook for the operator only when enabled', () => {
    const volumes = (set: string[]) => objects(template('toolgate-system', ...set)).filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
      .flatMap((o) => get(o, 'spec.template.spec.volumes') as Array<{ secret?: { secretName: string } }>).flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    expect(volumes(['--set', 'bundleTls.secretName=my-tls'])).toEqual(['my-tls', 'my-tls']);
    const operatorEnv = (set: string[]) => get(objects(template('toolgate-system', ...set)).find((o) => o.kind === 'Deployment'), 'spec.template.spec.containers.0.env') as Array<{ name: string; value?: string }>;
    expect(operatorEnv([]).some((e) => e.name === 'APPROVAL_WEBHOOK_SECRET')).toBe(false);
    expect(operatorEnv(['--set', 'approvals.webhook.enabled=true', '--set', 'approvals.webhook.key=slack'])).toEqual(expect.arrayContaining([
      { name: 'APPROVAL_WEBHOOK_SECRET', value: 'toolgate-approval-webhook' }, { name: 'APPROVAL_WEBHOOK_SECRET_KEY', value: 'slack' },
    ]));
  });

  it('audit evidence: off by default an emptyDir and no keys; on, the existing claim and both key Secrets mounted read-only, each file named once', () => {
    const pod = (set: string[]) => get(objects(template('toolgate-system', ...set)).find((o) => o.kind === 'StatefulSet'), 'spec.template.spec') as Record<string, unknown>;
    type Volume = { name: string; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string }; secret?: { secretName: string; defaultMode: number; items: Array<{ key: string; path: string }> } };
    const volumes = (p: unknown) => Object.fromEntries((get(p, 'volumes') as Volume[]).map((v) => [v.name, v]));
    const mounts = (p: unknown) => Object.fromEntries((get(p, 'containers.0.volumeMounts') as Array<{ name: string; mountPath: string; readOnly?: boolean }>).map((m) => [m.name, m]));
    const off = pod([]);
    expect(volumes(off).audit).toEqual({ name: 'audit', emptyDir: { sizeLimit: '1Gi' } });
    expect(Object.keys(volumes(off))).not.toEqual(expect.arrayContaining(['audit-signing']));
    expect(Object.keys(envOf(off)).filter((k) => k.startsWith('AUDIT_'))).toEqual(['AUDIT_FILE']);
    expect(envOf(off).AUDIT_FILE).toBe('/var/lib/toolgate/audit/$(POD_NAME).jsonl');

    const on = pod([...auditOn, '--set', 'authorizer.audit.signingKey.key=ed25519.pem']);
    const v = volumes(on);
    expect(v.audit).toEqual({ name: 'audit', persistentVolumeClaim: { claimName: 'toolgate-audit' } });
    expect(v['audit-signing']!.secret).toEqual({ secretName: 'toolgate-audit-signing', defaultMode: 0o440, items: [{ key: 'ed25519.pem', path: 'key.pem' }] });
    expect(v['audit-digest']!.secret).toEqual({ secretName: 'toolgate-audit-digest', defaultMode: 0o440, items: [{ key: 'key', path: 'key' }] });
    const m = mounts(on);
    expect(m.audit).toEqual({ name: 'audit', mountPath: '/var/lib/toolgate/audit' });
    expect(m['audit-signing']).toEqual({ name: 'audit-signing', mountPath: '/etc/toolgate/audit-signing', readOnly: true });
    expect(m['audit-digest']).toEqual({ name: 'audit-digest', mountPath: '/etc/toolgate/audit-digest', readOnly: true });
    expect(envOf(on)).toMatchObject({ AUDIT_SIGNING_KEY_FILE: '/etc/toolgate/audit-signing/key.pem', AUDIT_DIGEST_KEY_FILE: '/etc/toolgate/audit-digest/key' });
    // The pod's group owns what the kubelet can chown (a block-backed claim) and reads the keys.
    expect(get(on, 'securityContext.fsGroup')).toBe(65532);
    // One key per file, whichever are set: the digest key alone leaves the chain unsealed.
    const digestOnly = pod(['--set', 'authorizer.audit.digestKey.secretName=d']);
    expect(envOf(digestOnly).AUDIT_SIGNING_KEY_FILE).toBeUndefined();
    expect(envOf(digestOnly).AUDIT_DIGEST_KEY_FILE).toBe('/etc/toolgate/audit-digest/key');
    expect(volumes(digestOnly).audit!.emptyDir).toBeDefined();
  });

  it('persistence on without a claim is refused naming the value', () => {
    const r = helm('template', 'toolgate', 'charts/toolgate', '--kube-version', kubeVersion, '--set', 'authorizer.audit.persistence.enabled=true');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('authorizer.audit.persistence.existingClaim: name the PersistentVolumeClaim (ReadWriteMany) the audit trails go to');
  });

  it('the operator\'s leader Lease is part of the release (so uninstall deletes it), free until an operator takes it', () => {
    expect(find('Lease', 'toolgate-operator')).toMatchObject({ metadata: { namespace: 'toolgate-system', labels: { 'app.kubernetes.io/component': 'operator' } }, spec: {} });
    expect(Object.keys(find('Lease', 'toolgate-operator').spec as object)).toEqual([]);
  });

  it('the optional ServiceMonitor and Namespace (with the restricted Pod Security label), off by default', () => {
    expect(find('ServiceMonitor', 'toolgate')).toMatchObject({ metadata: { labels: { 'app.kubernetes.io/name': 'toolgate', release: 'prom' } }, spec: { endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }] } });
    expect(find('Namespace', 'toolgate-system')).toMatchObject({ metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    const defaults = objects(template('toolgate-system'));
    expect(defaults.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'Namespace')).toBe(false);
  });
});

describe('one release per cluster', () => {
  const clusterRole = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', name: 'toolgate-operator' };
  const install = (release: string, namespace: string) => helm('install', release, 'charts/toolgate', '--namespace', namespace, '--dry-run=server', '--kubeconfig', env.adminKubeconfig);
  // A render that looks at the cluster as install does (lookup works) without installing: an
  // install would also try to adopt cluster-scoped objects other test files made here.
  const render = (release: string, namespace: string) => helm('template', release, 'charts/toolgate', '--namespace', namespace, '--kube-version', kubeVersion, '--dry-run=server', '--kubeconfig', env.adminKubeconfig);
  // What Helm puts on the objects of a release it installed.
  const owned = async (annotations: Record<string, string>) => admin.apply(clusterRole, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', rules: [],
    metadata: { name: 'toolgate-operator', annotations, ...(Object.keys(annotations).length ? { labels: { 'app.kubernetes.io/managed-by': 'Helm' } } : {}) },
  }, 'chart-test');

  afterAll(async () => {
    await admin.delete(clusterRole).catch(() => undefined);
  });

  it('a second release is refused at install, naming the release that owns toolgate', async () => {
    // Only this one object of the "first" release: installing a whole chart here would bind the
    // admission policy to every namespace of the API server the other test files share.
    await owned({ 'meta.helm.sh/release-name': 'first', 'meta.helm.sh/release-namespace': 'toolgate-system' });
    const second = install('second', ns);
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain('toolgate is already installed in this cluster as release "first" in namespace "toolgate-system": one toolgate release per cluster');
    expect(second.stderr).toContain('helm upgrade first -n toolgate-system');
  });

  it('the owning release itself passes the check (its upgrades render)', async () => {
    await owned({ 'meta.helm.sh/release-name': 'first', 'meta.helm.sh/release-namespace': ns });
    const again = render('first', ns);
    expect(again.stderr).not.toContain('already installed');
    expect(again.status, again.stderr).toBe(0);
  });

  it('an installation made without Helm is named as such', async () => {
    await admin.delete(clusterRole);
    await owned({});
    const r = install('any', ns);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('toolgate is already installed in this cluster without Helm');
  });
});

describe('the leader Lease on upgrade from a chart that did not render it', () => {
  const lease = () => ({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: ns, name: 'toolgate-operator' });
  const leases = (release: string) => {
    const r = helm('template', release, 'charts/toolgate', '--namespace', ns, '--kube-version', kubeVersion, '--dry-run=server', '--kubeconfig', env.adminKubeconfig);
    if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    return objects(r.stdout).filter((o) => o.kind === 'Lease').map((o) => o.metadata.name);
  };
  const make = (annotations: Record<string, string>) => admin.apply(lease(), {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'toolgate-operator', namespace: ns, annotations }, spec: { holderIdentity: 'toolgate-operator-abc' },
  }, 'chart-test');

  afterAll(async () => {
    await admin.delete(lease()).catch(() => undefined);
  });

  it('renders it when none exists or the release owns it, and leaves an operator-made one to the operator (Helm could not adopt it)', async () => {
    expect(leases('first')).toEqual(['toolgate-operator']);
    await make({});
    expect(leases('first')).toEqual([]);
    await make({ 'meta.helm.sh/release-name': 'first', 'meta.helm.sh/release-namespace': ns });
    expect(leases('first')).toEqual(['toolgate-operator']);
  });
});
