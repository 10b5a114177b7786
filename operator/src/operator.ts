// Assembles the operator: informers for the three kinds and the authorizers' Leases, the
// controllers, leader election, the bundle service and the probe server. Every replica watches,
// compiles and serves bundles (caches stay warm for a fast failover, and authorizers may pull
// from any replica behind the Service); only the leader writes status.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { authorizerLeaseSelector, type ApprovalRequest, type McpProfile, type McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { PolicyController } from './controllers/policy-controller.ts';
import { ApprovalController } from './controllers/approval-controller.ts';
import { WebhookNotifier, secretUrl, type SecretKeyRef } from './controllers/approval-notifier.ts';
import { NotificationLedger, statusRecords } from './controllers/approval-notification-ledger.ts';
import { startChatEndpoint } from './chat/chat-endpoint.ts';
import { configMapIdentities, secretSigningSecrets } from './chat/sources.ts';
import { createBundleMetrics, loadOrCreateSigningKey, signerFor, startBundleServer, tokenReviewAuthenticator, BundleStore, type BundleServer, type BundleSigner, type BundleTls } from './bundle/index.ts';
import type { Lease } from './controllers/distribution.ts';
import { PolicyBundler } from './controllers/policy-bundler.ts';
import { KubeClient, loadKubeConfig } from '../../pkg/kube/client.ts';
import { EventRecorder } from '../../pkg/kube/events.ts';
import { ResourceInformer } from '../../pkg/kube/informer.ts';
import { LeaderElector } from '../../pkg/kube/leader.ts';
import { createLogger, type Logger } from '../../pkg/observability/log.ts';
import { createOperatorMetrics } from '../../pkg/observability/metrics.ts';
import { startProbeServer, type ProbeServer } from '../../pkg/observability/server.ts';

export interface OperatorConfig {
  kubeConfig?: KubeConfig;
  /** Namespace of the leader Lease. */
  leaseNamespace: string;
  /**
   * Watch (and act on) policies, approval requests and authorizer Leases in this namespace only;
   * all namespaces when absent. Profiles are cluster-scoped and always watched.
   */
  watchNamespace?: string;
  /**
   * Namespace of the authorizers' status Leases (RBAC grants list/watch there only). Default:
   * watchNamespace, else leaseNamespace.
   */
  authorizerNamespace?: string;
  leaseName?: string;
  identity?: string;
  probePort: number;
  probeHost?: string;
  bundles: BundleServiceConfig;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log?: Logger;
  approvals?: ApprovalsConfig;
}

/** The ApprovalRequest controller: phases, expiry, Events, chat notifications, garbage collection. */
export interface ApprovalsConfig {
  /** false: do not run it (default true). */
  enabled?: boolean;
  /** How long a settled request is kept before deletion (default 24 h). */
  retentionMs?: number;
  /** Reconcile only these namespaces (default: all). */
  namespaces?: readonly string[];
  /** Slack-compatible incoming webhook; the URL itself, or a Secret key holding it (read at send time). */
  webhook?: { url?: string; secret?: SecretKeyRef };
  /** Approve/deny from Slack (operator/src/chat): off unless configured. */
  chat?: ChatConfig;
}

export interface ChatConfig {
  /** Secret with `signing-secret` (and `previous-signing-secret` while rotating). */
  slackSecret: { namespace: string; name: string };
  /** ConfigMap mapping slack.<team>.<user> to a Kubernetes identity (config/rbac/chat_impersonator_role.yaml). */
  identities: { namespace: string; name: string };
  port: number;
  host?: string;
}

export interface BundleServiceConfig {
  /** The compiled Rego program shipped in every bundle (build/policy/policy.wasm). */
  policyWasm: Uint8Array;
  port: number;
  host?: string;
  tls?: BundleTls;
  /** Service accounts allowed to pull ("system:serviceaccount:<ns>:<name>" or "<ns>:*"); empty: any. */
  allow?: readonly string[];
  /** Audiences the callers' tokens must carry (TokenReview); the API server's default when absent. */
  audiences?: readonly string[];
  /** Secret (in leaseNamespace) holding the signing key; created when absent. */
  signingSecretName?: string;
  /** ConfigMap (in leaseNamespace) the public key is published in for authorizers to mount. */
  publicKeyConfigMap?: string;
}

export const defaultPublicKeyConfigMap = 'toolgate-bundle-signing-public';

export interface RunningOperator {
  identity: string;
  probe: ProbeServer;
  bundleServer: BundleServer;
  store: BundleStore;
  isLeader(): boolean;
  policies: ResourceInformer<McpSecurityPolicy>;
  stop(): Promise<void>;
}

const group = 'toolgate.io';
const version = 'v1alpha1';

export async function startOperator(cfg: OperatorConfig): Promise<RunningOperator> {
  const kc = cfg.kubeConfig ?? loadKubeConfig();
  const identity = cfg.identity ?? `${hostname()}-${process.pid}`;
  const log = cfg.log ?? createLogger('operator');
  const metrics = createOperatorMetrics();
  const client = new KubeClient(kc);

  const scope = cfg.watchNamespace ? { namespace: cfg.watchNamespace } : {};
  const policies = new ResourceInformer<McpSecurityPolicy>({ resource: { group, version, plural: 'mcpsecuritypolicies', ...scope }, client, log, metrics });
  const profiles = new ResourceInformer<McpProfile>({ resource: { group, version, plural: 'mcpprofiles' }, client, log, metrics });
  const approvals = new ResourceInformer<ApprovalRequest>({ resource: { group, version, plural: 'approvalrequests', ...scope }, client, log, metrics });
  const leaseScope = { namespace: cfg.authorizerNamespace ?? cfg.watchNamespace ?? cfg.leaseNamespace };
  const leases = new ResourceInformer<Lease>({ resource: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', ...leaseScope }, labelSelector: authorizerLeaseSelector, client, log, metrics });
  const informers = [policies, profiles, approvals, leases];

  const bundleMetrics = createBundleMetrics(metrics.registry);
  const store = new BundleStore({ metrics: bundleMetrics, log });
  const signer = memoizedSigner(client, cfg, log);
  const bundler = new PolicyBundler({ store, policyWasm: cfg.bundles.policyWasm, signer, log });

  const events = new EventRecorder({ client, controller: 'toolgate.io/operator', instance: identity, log });
  let leading = false;
  const policyController = new PolicyController({ client, policies, profiles, leases, bundler, events, log, metrics, canWrite: () => leading });
  const approvalController = cfg.approvals?.enabled === false ? undefined : startApprovals(cfg.approvals ?? {}, { client, approvals, events, log, metrics, canWrite: () => leading });
  // Every replica answers clicks: the writes are the clicking person's, judged by the API server.
  const chat = cfg.approvals?.chat ? await startChatEndpoint({
    signingSecrets: secretSigningSecrets(client, cfg.approvals.chat.slackSecret),
    identities: configMapIdentities(client, cfg.approvals.chat.identities),
    kubeConfig: kc, events, log: log.child({ component: 'chat' }), registry: metrics.registry,
    port: cfg.approvals.chat.port, ...(cfg.approvals.chat.host ? { host: cfg.approvals.chat.host } : {}),
  }) : undefined;

  const elector = new LeaderElector({
    client,
    namespace: cfg.leaseNamespace,
    name: cfg.leaseName ?? 'toolgate-operator',
    identity,
    log,
    ...(cfg.leaseDurationMs ? { leaseDurationMs: cfg.leaseDurationMs } : {}),
    ...(cfg.renewDeadlineMs ? { renewDeadlineMs: cfg.renewDeadlineMs } : {}),
    ...(cfg.retryPeriodMs ? { retryPeriodMs: cfg.retryPeriodMs } : {}),
    onStartedLeading: async () => {
      leading = true;
      metrics.leader.set(1);
      await Promise.all(informers.map((i) => i.synced()));
      policyController.requeueAll();
      approvalController?.requeueAll();
    },
    onStoppedLeading: () => {
      leading = false;
      metrics.leader.set(0);
    },
  });

  const bundleServer = await startBundleServer({
    store,
    port: cfg.bundles.port,
    ...(cfg.bundles.host ? { host: cfg.bundles.host } : {}),
    ...(cfg.bundles.tls ? { tls: cfg.bundles.tls } : {}),
    ...(cfg.bundles.allow ? { allow: cfg.bundles.allow } : {}),
    authenticate: tokenReviewAuthenticator({ client, metrics: bundleMetrics, log, ...(cfg.bundles.audiences ? { audiences: cfg.bundles.audiences } : {}) }),
    metrics: bundleMetrics,
    log,
  });
  // Replicas serve whatever they compiled; fetch the key early so the first compile need not wait.
  signer().catch(() => undefined);

  const probe = await startProbeServer({
    port: cfg.probePort,
    host: cfg.probeHost,
    registry: metrics.registry,
    readiness: {
      informers: () => {
        const pending = informers.filter((i) => !i.isSynced).length;
        return { ok: pending === 0, detail: pending === 0 ? 'caches synced' : `${pending} caches not synced` };
      },
    },
  });

  await Promise.all(informers.map((i) => i.start()));
  elector.start();
  log.info({ identity, probePort: probe.port, bundleUrl: bundleServer.url, server: kc.getCurrentCluster()?.server }, 'operator started');

  return {
    identity,
    probe,
    bundleServer,
    store,
    isLeader: () => leading,
    policies,
    async stop() {
      policyController.queue.stop();
      approvalController?.stop();
      await elector.stop();
      await Promise.all(informers.map((i) => i.stop()));
      store.close();
      await bundleServer.close();
      await chat?.close();
      await probe.close();
      log.info({ identity }, 'operator stopped');
    },
  };
}

function startApprovals(cfg: ApprovalsConfig, deps: Omit<ConstructorParameters<typeof ApprovalController>[0], 'notifier'>): ApprovalController {
  const { webhook } = cfg;
  const url = webhook?.url ? async () => webhook.url : webhook?.secret ? secretUrl(deps.client, webhook.secret, deps.log) : undefined;
  const notifier = url ? new WebhookNotifier({ url, log: deps.log.child({ component: 'approval-notifier' }), registry: deps.metrics.registry }) : undefined;
  const ledger = notifier ? new NotificationLedger({ notifier, records: statusRecords(deps.client), log: deps.log.child({ component: 'approval-notifier' }) }) : undefined;
  return new ApprovalController({
    ...deps,
    ...(notifier && ledger ? { notifier, ledger } : {}),
    ...(cfg.retentionMs !== undefined ? { retentionMs: cfg.retentionMs } : {}),
    ...(cfg.namespaces ? { namespaces: cfg.namespaces } : {}),
  });
}

/**
 * Loads (or creates) the signing key once, retrying on the next call after a failure, and
 * publishes the public half in a ConfigMap so authorizers can verify without reading the Secret.
 */
function memoizedSigner(client: KubeClient, cfg: OperatorConfig, log: Logger): () => Promise<BundleSigner> {
  let pending: Promise<BundleSigner> | undefined;
  return () => (pending ??= (async () => {
    const material = await loadOrCreateSigningKey({ client, namespace: cfg.leaseNamespace, log, ...(cfg.bundles.signingSecretName ? { secretName: cfg.bundles.signingSecretName } : {}) });
    const name = cfg.bundles.publicKeyConfigMap ?? defaultPublicKeyConfigMap;
    await client.apply(
      { group: '', version: 'v1', plural: 'configmaps', namespace: cfg.leaseNamespace, name },
      {
        apiVersion: 'v1', kind: 'ConfigMap',
        metadata: { name, namespace: cfg.leaseNamespace, labels: { 'app.kubernetes.io/managed-by': 'toolgate-operator', 'app.kubernetes.io/component': 'bundle-signing' } },
        data: { 'public.pem': material.publicKeyPem, 'key-id': material.keyId, algorithm: material.algorithm },
      },
      'toolgate-operator',
    );
    log.info({ thumbprint: material.thumbprint, configMap: name }, 'bundle signing key ready');
    return signerFor(material);
  })().catch((err: unknown) => {
    pending = undefined;
    throw err;
  }));
}
