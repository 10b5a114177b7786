// Helpers for integration tests running in vitest workers against the shared control plane.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';
import type {
  ApprovalRequest, McpProfile, McpProfileSpec, McpSecurityPolicy, McpSecurityPolicySpec, Policy, ProfileTool, ServerToolClassifier,
} from '../../api/v1alpha1/index.ts';
import { binary, mintUserKubeconfig, statusMessage, type ControlPlaneEnv } from './controlplane.ts';

export { waitFor } from './wait.ts';

export const apiVersion = 'toolgate.io/v1alpha1';

/** The control plane started by test/global-setup.ts. */
export function controlPlane(): ControlPlaneEnv {
  return inject('controlPlane');
}

/** A kubeconfig acting as `name` in `groups`, signed by the test CA. */
export function mintUser(name: string, groups: string[]): Promise<string> {
  return mintUserKubeconfig(controlPlane(), name, groups);
}

/** The Status message of a client-node ApiException, which otherwise prints as a wall of headers. */
function apiErrorMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') return statusMessage(body);
  if (body && typeof body === 'object' && 'message' in body) return String(body.message);
  return err instanceof Error ? err.message : String(err);
}

export function clientFor(kubeconfigPath: string): { kc: KubeConfig; client: KubernetesObjectApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, client: KubernetesObjectApi.makeApiClient(kc) };
}

/**
 * Server-side apply as `fieldManager`, with the API server's message (not a header dump) on failure.
 * Custom resources pass through untouched; built-in kinds go through client-node's typed
 * serializer, which drops keys it has no camelCase name for (e.g. a CRD's x-kubernetes-*).
 */
export async function apply<T extends { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }>(
  client: KubernetesObjectApi, obj: T, fieldManager = 'toolgate-test',
): Promise<T> {
  try {
    // toolgate's ObjectMeta types timestamps as string | Date, client-node's as Date only; the wire format is the same.
    const applied = await client.patch(obj as unknown as KubernetesObject, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
    return applied as unknown as T;
  } catch (err) {
    throw new Error(`apply ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}: ${apiErrorMessage(err)}`, { cause: err });
  }
}

/** A unique name: test files share one API server and run in parallel. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/**
 * A namespace for this test file, created before its tests and deleted after. There is no
 * namespace controller (no kube-controller-manager), so the deleted namespace stays
 * Terminating: nothing waits for it to disappear.
 */
export function withNamespace(prefix = 'test'): string {
  const name = uniqueName(prefix);
  beforeAll(async () => {
    await apply(clientFor(controlPlane().adminKubeconfig).client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });
  afterAll(async () => {
    await clientFor(controlPlane().adminKubeconfig).client.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });
  return name;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl. Never throws on a non-zero exit: refusals are what many tests assert. */
export async function kubectl(args: string[], opts: { kubeconfig?: string; input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  const kubeconfig = opts.kubeconfig ?? controlPlane().adminKubeconfig;
  const bin = await binary('kubectl');
  // A discovery cache beside the kubeconfig: ports are reused across runs, and a stale cache in
  // ~/.kube/cache would describe another run's API server.
  const child = spawn(bin, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dirname(kubeconfig), '.kube-cache')}`, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: opts.timeoutMs ?? 30_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  return { code, stdout, stderr };
}


// ---- Object builders: valid by default, so a test states only what it is about. ----

type Server = McpSecurityPolicySpec['servers'][number];

class PolicyBuilder {
  private readonly obj: McpSecurityPolicy;
  constructor(name: string) {
    this.obj = { apiVersion, kind: 'McpSecurityPolicy', metadata: { name }, spec: { servers: [], policies: [] } };
  }
  inNamespace(namespace: string): this { this.obj.metadata.namespace = namespace; return this; }
  withServer(name: string, url = `http://${name}-mcp.mcp.svc.cluster.local:8080/mcp`, extra: Partial<Server> = {}): this {
    this.obj.spec.servers.push({ name, url, ...extra });
    return this;
  }
  withProfile(name: string, server?: string): this {
    (this.obj.spec.profiles ??= []).push(server ? { name, server } : { name });
    return this;
  }
  withTenant(key: string, value: string): this { (this.obj.spec.tenant ??= {})[key] = value; return this; }
  withToolOverride(override: NonNullable<McpSecurityPolicySpec['toolOverrides']>[number]): this { (this.obj.spec.toolOverrides ??= []).push(override); return this; }
  withClassifier(classifier: ServerToolClassifier): this { (this.obj.spec.classifiers ??= []).push(classifier); return this; }
  withPolicy(policy: Policy): this { this.obj.spec.policies.push(policy); return this; }
  withEnforcement(enforcement: 'enforce' | 'dryrun'): this { this.obj.spec.enforcement = enforcement; return this; }
  withDefaultAction(action: Policy['action']): this { this.obj.spec.defaultAction = action; return this; }
  build(): McpSecurityPolicy {
    const out = structuredClone(this.obj);
    if (out.spec.servers.length === 0) out.spec.servers.push({ name: 'gmail', url: 'http://gmail-mcp.mcp.svc.cluster.local:8080/mcp' });
    return out;
  }
}
export const aPolicy = (name: string) => new PolicyBuilder(name);

class ProfileBuilder {
  private readonly obj: McpProfile;
  constructor(name: string) {
    this.obj = { apiVersion, kind: 'McpProfile', metadata: { name }, spec: { service: 'gmail', version: '1.0.0', tools: [] } };
  }
  forService(service: string): this { this.obj.spec.service = service; return this; }
  withVersion(version: string): this { this.obj.spec.version = version; return this; }
  withTool(tool: ProfileTool): this { this.obj.spec.tools.push(tool); return this; }
  withSpec(spec: Partial<McpProfileSpec>): this { Object.assign(this.obj.spec, spec); return this; }
  build(): McpProfile { return structuredClone(this.obj); }
}
export const aProfile = (name: string) => new ProfileBuilder(name);

class ApprovalRequestBuilder {
  private readonly obj: ApprovalRequest;
  constructor(name: string) {
    this.obj = {
      apiVersion, kind: 'ApprovalRequest', metadata: { name },
      spec: {
        requester: { agent: 'agent-1' },
        policyRef: { namespace: 'default', name: 'policy' },
        rule: 'approve-external-communication',
        server: 'gmail', tool: 'send_email', verb: 'create',
        arguments: {},
        argumentsDigest: `sha256:${'0'.repeat(64)}`,
        approvers: ['approvers'], quorum: 1,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    };
  }
  inNamespace(namespace: string): this { this.obj.metadata.namespace = namespace; return this; }
  requestedBy(agent: string, operator?: string): this { this.obj.spec.requester = operator ? { agent, operator } : { agent }; return this; }
  forCall(server: string, tool: string, verb: ApprovalRequest['spec']['verb'], args: Record<string, unknown> = {}): this {
    Object.assign(this.obj.spec, { server, tool, verb, arguments: args });
    return this;
  }
  heldBy(policy: { namespace: string; name: string }, rule: string): this { Object.assign(this.obj.spec, { policyRef: policy, rule }); return this; }
  withApprovers(groups: string[], quorum = 1): this { Object.assign(this.obj.spec, { approvers: groups, quorum }); return this; }
  expiringAt(when: Date): this { this.obj.spec.expiresAt = when.toISOString().replace(/\.\d+Z$/, 'Z'); return this; }
  build(): ApprovalRequest { return structuredClone(this.obj); }
}
export const anApprovalRequest = (name: string) => new ApprovalRequestBuilder(name);
