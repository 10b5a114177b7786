// The install manifests (config/default via kustomize, and the Helm chart rendered from it) are
// accepted by the real API server: a server-side dry run validates every object against the
// live schemas, which kubeconform cannot do offline here.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { binDir } from '../harness/controlplane.ts';

const env = inject('controlPlane');
const root = join(import.meta.dirname, '..', '..');
const run = (bin: string, args: string[], input?: string) =>
  execFileSync(join(binDir(), bin), args, { cwd: root, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

describe('install manifests', () => {
  it('config/default passes a server-side dry run', () => {
    // A dry run does not persist the Namespace it creates, so objects inside it need it to exist.
    execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', env.adminKubeconfig, 'apply', '--server-side', '--field-manager=test', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'toolgate-system' } }),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const out = run('kubectl', ['--kubeconfig', env.adminKubeconfig, 'apply', '--server-side', '--dry-run=server', '--force-conflicts', '--field-manager=test', '-k', 'config/default']);
    expect(out).toMatch(/deployment.apps\/toolgate-operator serverside-applied \(server dry run\)/);
    expect(out).toMatch(/clusterrole.rbac.authorization.k8s.io\/toolgate-operator serverside-applied/);
  });

  it('the Helm chart renders and passes a server-side dry run', () => {
    const rendered = run('helm', ['template', 'toolgate', 'charts/toolgate', '--namespace', 'default', '--kube-version', '1.34.0', '--include-crds', '--set', 'operator.replicas=3']);
    expect(rendered).toContain('replicas: 3');
    const out = run('kubectl', ['--kubeconfig', env.adminKubeconfig, 'apply', '--server-side', '--dry-run=server', '--force-conflicts', '--field-manager=test', '-f', '-'], rendered);
    expect(out).toMatch(/deployment.apps\/toolgate-operator serverside-applied \(server dry run\)/);
    expect(out).toMatch(/customresourcedefinition.apiextensions.k8s.io\/mcpsecuritypolicies.toolgate.io serverside-applied/);
  });
});
