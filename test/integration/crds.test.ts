// The three CRDs and the samples on the real kube-apiserver: what users meet at `kubectl apply`,
// `kubectl explain` and `kubectl get`, and that RBAC in front of them is real.
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { McpSecurityPolicySpec, Policy } from '../../api/v1alpha1/index.ts';
import type { McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import {
  aPolicy, anApprovalRequest, apply, clientFor, controlPlane, kubectl, mintUser, uniqueName, waitFor, withNamespace,
} from '../harness/kube.ts';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const ns = withNamespace('crds');
const admin = () => clientFor(controlPlane().adminKubeconfig).client;
const plurals = ['mcpsecuritypolicies', 'mcpprofiles', 'approvalrequests', 'mcpsessiontaints'];

interface Crd {
  spec: { versions: Array<{ name: string; schema: unknown }> };
  status: { conditions: Array<{ type: string; status: string }>; acceptedNames: { plural: string } };
}

describe('CustomResourceDefinitions', () => {
  it.each(plurals)('%s.toolgate.io is Established, with the schema exactly as generated in crds/', async (plural) => {
    const res = await kubectl(['get', 'crd', `${plural}.toolgate.io`, '-o', 'json']);
    expect(res.code, res.stderr).toBe(0);
    const live = JSON.parse(res.stdout) as Crd;
    const status = (type: string) => live.status.conditions.find((c) => c.type === type)?.status;
    expect(status('Established')).toBe('True');
    expect(status('NamesAccepted')).toBe('True');
    expect(live.status.acceptedNames.plural).toBe(plural);
    // Guards against an installer that silently drops schema keys (CEL rules, preserve-unknown-fields).
    const generated = parse(await readFile(repo(`crds/toolgate.io_${plural}.yaml`), 'utf8')) as Crd;
    expect(live.spec.versions[0]?.schema).toEqual(generated.spec.versions[0]?.schema);
  });
});

describe('config/samples', async () => {
  const dir = repo('config/samples');
  const listed = (parse(await readFile(`${dir}/kustomization.yaml`, 'utf8')) as { resources: string[] }).resources;

  it('the kustomization lists every sample', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files.sort());
  });

  it('apply as is with `kubectl apply --server-side -k` (server dry run)', async () => {
    const res = await kubectl(['apply', '--server-side', '--field-manager=toolgate-samples', '--dry-run=server', '-n', ns, '-k', dir]);
    expect(res.code, res.stderr).toBe(0);
    for (const file of listed) {
      for (const doc of parseAllDocuments(await readFile(`${dir}/${file}`, 'utf8'))) {
        const obj = doc.toJS() as { kind: string; metadata: { name: string } };
        expect(res.stdout).toContain(`${obj.kind.toLowerCase()}.toolgate.io/${obj.metadata.name} serverside-applied (server dry run)`);
      }
    }
  });

  it.each(listed)('%s applies with server-side apply and reads back', async (file) => {
    const obj = parse(await readFile(`${dir}/${file}`, 'utf8')) as { kind: string; metadata: { name: string }; spec: object };
    const clusterScoped = obj.kind === 'McpProfile';
    // Cluster-scoped objects are shared by every test file: a unique name keeps this one from
    // standing in for a profile another test expects to be missing.
    if (clusterScoped) obj.metadata.name = uniqueName(obj.metadata.name);
    const where = clusterScoped ? [] : ['-n', ns];
    try {
      const res = await kubectl(['apply', '--server-side', '--field-manager=toolgate-samples', ...where, '-f', '-'], { input: stringify(obj) });
      expect(res.code, res.stderr).toBe(0);
      const got = await kubectl(['get', `${obj.kind.toLowerCase()}.toolgate.io`, obj.metadata.name, ...where, '-o', 'json', '--show-managed-fields']);
      expect(got.code, got.stderr).toBe(0);
      const live = JSON.parse(got.stdout) as { spec: object; metadata: { managedFields: Array<{ manager: string; operation: string }> } };
      expect(live.spec).toMatchObject(obj.spec);
      expect(live.metadata.managedFields).toContainEqual(expect.objectContaining({ manager: 'toolgate-samples', operation: 'Apply' }));
    } finally {
      if (clusterScoped) await kubectl(['delete', 'mcpprofile', obj.metadata.name, '--ignore-not-found']);
    }
  });
});

describe('an invalid McpSecurityPolicy is refused at apply time, naming the field', () => {
  const base = (name: string) => aPolicy(name).inNamespace(ns).withTenant('company_domain', 'acme.com').withServer('gmail');
  const allowAll: Policy = { name: 'allow-all', priority: 100, when: {}, action: 'allow' };
  const cases: Array<{ what: string; policy: (name: string) => McpSecurityPolicy; field: string; message: string }> = [
    {
      what: 'a classifier with two conditions',
      policy: (n) => base(n).withPolicy(allowAll).withClassifier({ server: 'gmail', tool: 'send_email', field: 'to', contains: '@acme.com', notContains: '@acme.com', setLabels: ['scope:internal'] }).build(),
      field: 'spec.classifiers[0]',
      message: 'exactly one condition must be set',
    },
    {
      what: 'a require_approval rule without approvers',
      policy: (n) => base(n).withPolicy({ name: 'hold', priority: 10, when: {}, action: 'require_approval' }).build(),
      field: 'spec.policies[0].approvers',
      message: 'require_approval needs at least one approver group',
    },
    {
      what: 'approvers on an allow rule',
      policy: (n) => base(n).withPolicy({ ...allowAll, approvers: ['admins'] }).build(),
      field: 'spec.policies[0]',
      message: 'approvers, quorum and timeout apply only to require_approval',
    },
    {
      what: 'an unknown verb',
      policy: (n) => base(n).withPolicy({ ...allowAll, when: { verbs: ['destroy'] } }).build(),
      field: 'spec.policies[0].when.verbs[0]',
      message: 'Unsupported value: "destroy"',
    },
    {
      what: 'a label without a namespace',
      policy: (n) => base(n).withPolicy({ ...allowAll, when: { labels: ['External'] } }).build(),
      field: 'spec.policies[0].when.labels[0]',
      message: 'should match',
    },
    {
      what: 'a credential both in a Secret and in Vault',
      policy: (n) => aPolicy(n).inNamespace(ns).withPolicy(allowAll).withServer('gmail', undefined, {
        credentials: { secretRef: { name: 'gmail', key: 'token' }, vault: { path: 'secret/data/gmail', key: 'token' } },
      }).build(),
      field: 'spec.servers[0].credentials',
      message: 'exactly one of secretRef or vault must be set',
    },
    {
      // Server-side apply merges list maps by key, so it refuses duplicates before validation runs.
      what: 'two rules with the same name',
      policy: (n) => base(n).withPolicy(allowAll).withPolicy({ ...allowAll, priority: 200 }).build(),
      field: '.spec.policies',
      message: 'duplicate entries for key [name="allow-all"]',
    },
  ];

  it('the baseline the cases start from is accepted', async () => {
    const res = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: JSON.stringify(base('baseline').withPolicy(allowAll).build()) });
    expect(res.code, res.stderr).toBe(0);
  });

  it.each(cases)('$what → $field', async ({ policy, field, message }) => {
    const name = uniqueName('invalid');
    const res = await kubectl(['apply', '--server-side', '--field-manager=toolgate-test', '-f', '-'], { input: JSON.stringify(policy(name)) });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(name);
    expect(res.stderr).toContain(`${field}:`);
    expect(res.stderr).toContain(message);
    const got = await kubectl(['get', 'mcpsecuritypolicy', name, '-n', ns]);
    expect(got.stderr).toContain('NotFound');
  });
});

describe('kubectl', () => {
  it('explain mcpsecuritypolicy.spec.policies teaches every field of a rule', async () => {
    const res = await kubectl(['explain', 'mcpsecuritypolicy.spec.policies']);
    expect(res.code, res.stderr).toBe(0);
    const flat = res.stdout.replace(/\s+/g, ' ');
    expect(flat).toContain(McpSecurityPolicySpec.properties.policies.description);
    for (const [field, schema] of Object.entries(Policy.properties)) {
      expect(flat).toMatch(new RegExp(` ${field} <`));
      expect(flat).toContain((schema as { description: string }).description.replace(/\s+/g, ' '));
    }
  });

  it('get mcpsecuritypolicies shows readiness, enforcement and, wide, revision and rule count', async () => {
    const name = uniqueName('columns');
    await apply(admin(), aPolicy(name).inNamespace(ns).withEnforcement('dryrun').withPolicy({ name: 'allow-all', priority: 1, when: {}, action: 'allow' }).build());
    const status = {
      revision: 'sha256-3f2a9c',
      counts: { servers: 1, tools: 6, policies: 1, classifiers: 0 },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled', message: 'bundle compiled', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    };
    const patched = await kubectl(['patch', 'mcpsecuritypolicy', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    expect(patched.code, patched.stderr).toBe(0);

    const table = async (...extra: string[]) => {
      const res = await kubectl(['get', 'mcpsecuritypolicies', name, '-n', ns, ...extra]);
      expect(res.code, res.stderr).toBe(0);
      return res.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    };
    const [header, row] = await table();
    expect(header).toEqual(['NAME', 'READY', 'REASON', 'ENFORCEMENT', 'AGE']);
    expect(row?.slice(0, 4)).toEqual([name, 'True', 'Compiled', 'dryrun']);
    const [wideHeader, wideRow] = await table('-o', 'wide');
    expect(wideHeader).toEqual(['NAME', 'READY', 'REASON', 'ENFORCEMENT', 'REVISION', 'POLICIES', 'AGE']);
    expect(wideRow?.slice(0, 6)).toEqual([name, 'True', 'Compiled', 'dryrun', 'sha256-3f2a9c', '1']);
  });
});

describe('ApprovalRequest', () => {
  it('refuses any change to its spec, while its status stays writable', async () => {
    const request = anApprovalRequest(uniqueName('held')).inNamespace(ns).build();
    const name = request.metadata.name ?? '';
    await apply(admin(), request);

    const patch = await kubectl(['patch', 'approvalrequest', name, '-n', ns, '--type=merge', '-p', '{"spec":{"tool":"delete_email"}}']);
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toContain('spec is immutable');
    const reapply = apply(admin(), { ...request, spec: { ...request.spec, quorum: 2 } });
    await expect(reapply).rejects.toThrow('spec is immutable');

    const status = await kubectl(['patch', 'approvalrequest', name, '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Denied"}}']);
    expect(status.code, status.stderr).toBe(0);
    const got = await kubectl(['get', 'approvalrequest', name, '-n', ns, '-o', 'jsonpath={.spec.tool} {.spec.quorum} {.status.phase}']);
    expect(got.stdout).toBe('send_email 1 Denied');
  });
});

describe('RBAC', () => {
  it('a minted user with no grants is Forbidden, and allowed once a Role is bound to their group', async () => {
    const user = uniqueName('alice');
    const group = uniqueName('mail-approvers');
    const kubeconfig = await mintUser(user, [group, 'toolgate:humans']);

    const whoami = await kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig });
    expect(whoami.code, whoami.stderr).toBe(0);
    const info = (JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    expect(info.username).toBe(user);
    expect(info.groups).toEqual(expect.arrayContaining([group, 'toolgate:humans', 'system:authenticated']));

    const denied = await kubectl(['get', 'mcpsecuritypolicies', '-n', ns], { kubeconfig });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(`(Forbidden): mcpsecuritypolicies.toolgate.io is forbidden: User "${user}" cannot list resource "mcpsecuritypolicies" in API group "toolgate.io" in the namespace "${ns}"`);

    const role = uniqueName('policy-reader');
    await apply(admin(), {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: role, namespace: ns },
      rules: [{ apiGroups: ['toolgate.io'], resources: ['mcpsecuritypolicies'], verbs: ['get', 'list', 'watch'] }],
    });
    await apply(admin(), {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: role, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
    });

    // The RBAC authorizer reads through an informer, so the grant lands shortly after the write.
    const allowed = await waitFor(async () => {
      const res = await kubectl(['get', 'mcpsecuritypolicies', '-n', ns], { kubeconfig });
      return res.code === 0 ? res : undefined;
    }, { description: `${user} to be allowed to list mcpsecuritypolicies in ${ns}`, timeoutMs: 10_000 });
    expect(allowed.stderr).not.toContain('Forbidden');

    // The grant is exactly the Role: no writes, and nothing outside its namespace.
    const canCreate = await kubectl(['auth', 'can-i', 'create', 'mcpsecuritypolicies.toolgate.io', '-n', ns], { kubeconfig });
    expect(canCreate.stdout.trim()).toBe('no');
    const elsewhere = await kubectl(['get', 'mcpsecuritypolicies', '-n', 'default'], { kubeconfig });
    expect(elsewhere.stderr).toContain('Forbidden');
  });
});
