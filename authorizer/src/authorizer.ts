// Assembles an authorizer pod: one PolicyRouter with a PolicyEngine per enforced policy, fed by
// the bundle clients; ONE Gate shared by the Envoy ext_authz front end and the MCP proxy (so
// both authenticate, decide, hold and refuse every message identically), with caller identity
// from the policies' own spec.identity and one tool catalog of every governed server; upstream
// credentials for the catalog and the proxy; the audit trail of decisions, approval outcomes and
// refusals; a Lease per pod reporting the revisions in force; and the probe server. Fail-closed
// from the first instant: the front ends listen before any bundle has loaded and refuse
// everything as unavailable.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { KubeTaintStore, SessionState } from './session/index.ts';
import { KubeClient, loadKubeConfig } from '../../pkg/kube/client.ts';
import { createLogger, errorMessage, type Logger } from '../../pkg/observability/log.ts';
import { startProbeServer, type ProbeServer } from '../../pkg/observability/server.ts';
import { ApprovalCoordinator, approvalPolicy } from './approvals/index.ts';
import { AdmissionGuard, type AdmissionGuardSettings } from './approvals/admission-guard.ts';
import { AuditTrail } from './audit/index.ts';
import { policyWorkerPoolFor, registerPoolMetrics } from '../../pkg/policy/pool/index.ts';
import { auditSealingFromEnv } from './audit/checkpoint-config.ts';
import { buildSinks, type BuildContext } from './audit/sinks/build.ts';
import type { AuditSinksConfig } from './audit/sinks/config.ts';
import { defaultRetention } from './audit/sinks/retention.ts';
import { BundleClients, RevisionReporter, type BundleClientOptions } from './bundles/index.ts';
import { UpstreamToolCatalog, eitherEraLister, mcpToolLister } from './catalog/index.ts';
import { KubeToolPinStore, ToolPins } from './pinning/index.ts';
import { modernToolLister } from './proxy/stateless/lister.ts';
import { CredentialProvider, KubeSecretSource, VaultSource, createCredentialMetrics, type VaultSourceOptions } from './credentials/index.ts';
import type { PolicyEngine } from '../../pkg/policy/engine/index.ts';
import { createExtAuthzMetrics, startExtAuthzServer, type ExtAuthzServer } from './extauthz/index.ts';
import { Gate, PolicyRouter, PolicyVerifiers, createGatewayMetrics, metadataUrlOf, policyInput, type DecisionPath, type DecisionRecord, type ToolCall, type Verdict } from './gate/index.ts';
import { createAuthnMetrics, protectedResourceMetadata, protectedResourceMetadataHandler, type TokenVerifierOptions } from './identity/index.ts';
import { startMcpProxy, type McpProxy, type McpProxyOptions } from './proxy/index.ts';
import { ShutdownState, type ShutdownSettings } from './shutdown.ts';

export interface AuthorizerConfig {
  /** For the revision Lease and credential Secrets; in-cluster or $KUBECONFIG when absent. */
  kubeConfig?: KubeConfig;
  /** The pod's namespace (downward API): where its revision Lease lives. */
  namespace: string;
  podName: string;
  /** When set, the Lease is owned by the pod and garbage-collected with it. */
  podUid?: string;
  /** Base URL of the operator's bundle service. */
  bundleService: string;
  /** The McpSecurityPolicies enforced, as "<namespace>/<name>". */
  policies: string[];
  /** Service-account token presented to the bundle service (projected token path by default). */
  tokenPath?: string;
  /** PEM CA bundle of an https bundle service. */
  caFile?: string;
  /** The operator's bundle signing public key (ConfigMap toolgate-bundle-signing-public). */
  verification: { publicKeyPem: string; keyId: string; algorithm: string };
  extAuthz?: { port: number; host?: string; passAuthorization?: boolean; trustServerHeader?: boolean; maxBodyBytes?: number };
  /** resourceMetadataUrl is named in the challenges of both front ends; maxBodyBytes bounds both. */
  proxy?: { port: number; host?: string; allowedOrigins?: string[]; resourceMetadataUrl?: string; maxBodyBytes?: number } & Partial<Omit<McpProxyOptions, 'gate' | 'upstreamHeaders' | 'log' | 'registry' | 'handlers'>>;
  probePort: number;
  probeHost?: string;
  /** Write the per-pod revision Lease the operator aggregates into `Distributed`. */
  reportRevisions: boolean;
  /** Lease timing (tests shorten it). */
  lease?: { durationSeconds?: number; renewIntervalMs?: number };
  /** Bundle polling knobs (long-poll wait, backoff); defaults suit production. */
  bundles?: Pick<BundleClientOptions, 'waitSeconds' | 'minDelayMs' | 'backoff' | 'maxBundleBytes'>;
  /** Vault for `credentials.vault` references; absent: such servers fail their calls. */
  vault?: VaultSourceOptions;
  /** Token verification knobs (JWKS timeouts, a custom fetch in tests). */
  identity?: Omit<TokenVerifierOptions, 'metrics' | 'log'>;
  /** Called once per tools/call decision (after the audit trail, when one is configured). */
  onDecision?: (record: DecisionRecord) => void;
  /** Knobs of the tool catalog (how often each governed server's tools/list is fetched). */
  catalog?: { refreshMs?: number; missRefreshMs?: number; timeoutMs?: number };
  /**
   * Hash-chained JSON-lines audit trail: one record per tools/call decision, one per outcome of a
   * held call and one per refusal, wherever it happened (one file per pod).
   * An existing file continues its chain; one whose last line does not verify stops the start.
   */
  audit?: { file: string; fsync?: boolean } & Partial<AuditSinksConfig>;
  /** Tests: the S3 client the s3 audit sink uses (default: the SDK's credential chain). */
  auditS3Client?: BuildContext['s3Client'];
  /**
   * Held calls (require_approval) become ApprovalRequests the authorizer watches and consumes
   * (needs the RBAC in config/authorizer). Off: held calls are refused with approvalRequired.
   * The proxy's hold/retry mode is proxy.approvalMode.
   */
  approvals?: { enabled: boolean; admission?: AdmissionGuardSettings };
  /** Graceful stop (shutdown.ts); absent: stop() closes the front ends at once (tests). */
  shutdown?: ShutdownSettings;
  /**
   * Tool-definition pins (McpToolPin) for policies with spec.toolPinning (needs the RBAC in
   * config/authorizer). Off: calls to tools of such policies are refused (nothing can be pinned).
   */
  toolPinning?: { enabled: boolean };
  /**
   * Policy worker threads deciding the calls (pkg/policy/pool): 0 evaluates on the main thread.
   * Default 0 here; AUTHORIZER_WORKERS (config.ts) defaults to one fewer than the machine's cores.
   */
  workers?: number;
  log?: Logger;
  registry?: Registry;
}

export interface RunningAuthorizer {
  router: PolicyRouter;
  gate: Gate;
  decisionPath: DecisionPath;
  catalog: UpstreamToolCatalog;
  bundles: BundleClients;
  extAuthz?: ExtAuthzServer;
  proxy?: McpProxy;
  probe: ProbeServer;
  reporter?: RevisionReporter;
  approvals?: ApprovalCoordinator;
  audit?: AuditTrail;
  registry: Registry;
  /** True once every policy's bundle has loaded once. */
  ready(): boolean;
  /** Revision in force per policy. */
  revisions(): Record<string, string>;
  stop(): Promise<void>;
}

/** How often lapsed McpSessionTaints are deleted. */
const taintCollectIntervalMs = 5 * 60_000;

export async function startAuthorizer(cfg: AuthorizerConfig): Promise<RunningAuthorizer> {
  const log = cfg.log ?? createLogger('authorizer');
  if (cfg.policies.length === 0) throw new Error('no policies to enforce: set at least one "<namespace>/<name>"');
  if (!cfg.extAuthz && !cfg.proxy) throw new Error('neither the ext_authz nor the proxy front end is enabled: nothing would be served');
  const registry = cfg.registry ?? defaultRegistry();

  // Decisions on every core: the bundles load into each worker before they are reported active.
  const pool = policyWorkerPoolFor(cfg.workers ?? 0, log);
  if (pool) registerPoolMetrics(registry, pool);
  const router = new PolicyRouter(pool ? { pool } : {});
  const engines = new Map<string, PolicyEngine>(cfg.policies.map((key) => [key, router.entry(key).engine]));
  const gatewayMetrics = createGatewayMetrics(registry);
  const audit = cfg.audit ? await openAuditTrail(cfg, log, registry, router) : undefined;
  const onDecision = audit || cfg.onDecision
    ? (r: DecisionRecord) => {
      cfg.onDecision?.(r);
      // The gate awaits this write before a call proceeds (fail closed, see audit/trail.ts).
      return audit?.record(r);
    }
    : undefined;
  const verifiers = new PolicyVerifiers(router, { ...cfg.identity, metrics: createAuthnMetrics(registry), log });
  let kube: KubeClient | undefined;
  const kubeClient = () => (kube ??= new KubeClient(cfg.kubeConfig ?? loadKubeConfig()));
  const reporter = cfg.reportRevisions
    ? new RevisionReporter({
      client: kubeClient(), namespace: cfg.namespace, podName: cfg.podName, log,
      ...(cfg.podUid ? { podUid: cfg.podUid } : {}),
      ...(cfg.lease?.durationSeconds ? { leaseDurationSeconds: cfg.lease.durationSeconds } : {}),
      ...(cfg.lease?.renewIntervalMs ? { renewIntervalMs: cfg.lease.renewIntervalMs } : {}),
    })
    : undefined;

  const approvals: ApprovalCoordinator | undefined = cfg.approvals?.enabled
    ? new ApprovalCoordinator({ client: kubeClient(), pod: cfg.podName, log, registry, policy: approvalPolicy(router, (call): Verdict => gate.redecide(call)), ...(audit ? { onOutcome: (e) => audit.recordApproval(e) } : {}) })
    : undefined;

  const credentials = new CredentialProvider({
    namespace: cfg.namespace,
    secrets: new KubeSecretSource({ client: kubeClient() }),
    ...(cfg.vault ? { vault: new VaultSource(cfg.vault) } : {}),
    log,
    metrics: createCredentialMetrics(registry),
  });
  // Secrets are read from the namespace of the policy that names them.
  const upstreamHeaders = (server: Parameters<CredentialProvider['headersFor']>[0], policy: { namespace: string }) => credentials.headersFor(server, policy.namespace);
  const pinStore = cfg.toolPinning?.enabled ? new KubeToolPinStore({ client: kubeClient(), log }) : undefined;
  const pins = new ToolPins({ ...(pinStore ? { store: pinStore } : {}), log, registry });
  const catalog = new UpstreamToolCatalog({ router, lister: eitherEraLister(mcpToolLister({ headers: upstreamHeaders, log }), modernToolLister({ headers: upstreamHeaders, log })), log, registry, pins, ...cfg.catalog });
  // Taint in the authorizer's namespace (McpSessionTaint), shared by every replica and kept over
  // restarts; velocity counters in memory, per replica (session affinity: authorizer/src/session/README.md).
  const taint = new KubeTaintStore({ client: kubeClient(), namespace: cfg.namespace, log });
  const session = new SessionState({ taint });
  const gate = new Gate({
    router, log, verifiers, catalog, metrics: gatewayMetrics, pins, session,
    ...(approvals ? { approvals } : {}),
    ...(cfg.proxy?.resourceMetadataUrl ? { resourceMetadataUrl: cfg.proxy.resourceMetadataUrl } : {}),
    ...((cfg.extAuthz?.maxBodyBytes ?? cfg.proxy?.maxBodyBytes) !== undefined ? { maxBodyBytes: cfg.extAuthz?.maxBodyBytes ?? cfg.proxy?.maxBodyBytes } : {}),
    // Bundles loaded and, with approvals on, the admission policy guarding them in place.
    ready: () => ready(),
    ...(onDecision ? { onDecision } : {}),
    auditOnFailure: (server) => {
      const route = router.route(server);
      return (route.ok ? route.entry.gateway?.audit?.onFailure : undefined) ?? 'Refuse';
    },
    ...(audit ? { onRefusal: (r) => audit.recordRefusal(r), onResponse: (e) => audit.recordResponse(e) } : {}),
  });

  let proxy: McpProxy | undefined;
  const bundles = new BundleClients({
    bundles: engines,
    service: cfg.bundleService,
    verification: { keys: { [cfg.verification.keyId]: { key: cfg.verification.publicKeyPem, algorithm: cfg.verification.algorithm } }, keyId: cfg.verification.keyId },
    ...(cfg.tokenPath ? { tokenPath: cfg.tokenPath } : {}),
    ...(cfg.caFile ? { caFile: cfg.caFile } : {}),
    ...cfg.bundles,
    registry,
    log,
    ...(reporter ? { reporter } : {}),
    onLoaded: (loaded) => {
      router.update(loaded.bundle, { gateway: loaded.gateway, data: loaded.data });
      catalog.warm();
      // Clients re-list tools under the new revision (tools/list is filtered per caller).
      proxy?.notifyToolsChanged();
      // Held calls check that the new revision still requires what they wait for.
      approvals?.policyChanged();
    },
  });
  // With approvals on, not ready (every call refused) while the admission policy is missing.
  const guard = approvals ? new AdmissionGuard({ client: kubeClient(), log, registry, ...cfg.approvals?.admission }) : undefined;
  const ready = () => bundles.ready && (guard?.guarded ?? true);
  const shutdown = new ShutdownState();

  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const extAuthz = cfg.extAuthz
      ? await startExtAuthzServer({
        port: cfg.extAuthz.port,
        ...(cfg.extAuthz.host ? { host: cfg.extAuthz.host } : {}),
        gate,
        log,
        metrics: createExtAuthzMetrics(registry),
        ...(cfg.extAuthz.passAuthorization !== undefined ? { passAuthorization: cfg.extAuthz.passAuthorization } : {}),
        ...(cfg.extAuthz.trustServerHeader !== undefined ? { trustServerHeader: cfg.extAuthz.trustServerHeader } : {}),
        ...(cfg.shutdown ? { shutdownGraceMs: cfg.shutdown.drainMs } : {}),
      })
      : undefined;
    if (extAuthz) started.push(extAuthz);

    if (cfg.proxy) {
      const { port, host, resourceMetadataUrl: _inGate, maxBodyBytes: _alsoInGate, ...rest } = cfg.proxy;
      proxy = await startMcpProxy({
        ...rest,
        port,
        host: host ?? '0.0.0.0',
        gate,
        upstreamHeaders,
        handlers: [resourceMetadataRoute(verifiers)],
        // Each caller sees of the listings what the policy lets it use, as with tools/list.
        listingFilters: {
          resources: (server, items, caller) => gate.visibleResources(server, items, caller),
          resourceTemplates: (server, items, caller) => gate.visibleResourceTemplates(server, items, caller),
          prompts: (server, items, caller) => gate.visiblePrompts(server, items, caller),
        },
        log,
        registry,
      });
      started.push(proxy);
    }

    const probe = await startProbeServer({
      port: cfg.probePort,
      ...(cfg.probeHost ? { host: cfg.probeHost } : {}),
      registry,
      readiness: {
        shutdown: () => shutdown.readiness(),
        bundles: () => bundles.readiness(),
        ...(guard ? { admission: () => guard.readiness() } : {}),
        ...(approvals ? { approvals: () => ({ ok: approvals.watching, detail: approvals.watching ? 'watching ApprovalRequests' : 'ApprovalRequest watch not synced' }) } : {}),
        ...auditSinkReadiness(audit),
      },
    });
    started.push(probe);

    const collector = setInterval(() => {
      // Only policies with flow rules write taint; without any there is nothing to collect.
      if (!router.keys().some((k) => (router.entry(k).session?.flows.length ?? 0) > 0)) return;
      taint.collect().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'lapsed McpSessionTaints could not be collected'));
    }, taintCollectIntervalMs);
    collector.unref();
    started.push({ close: async () => clearInterval(collector) });

    // The Lease first says "enforcing nothing"; each load then reports its revision.
    await reporter?.start();
    bundles.start();
    // Not awaited: until the watch lists, held calls are refused (fail closed) rather than startup blocked.
    void guard?.start();
    approvals?.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'ApprovalRequest watch failed to start'));
    pinStore?.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'McpToolPin watch failed to start'));
    log.info({
      policies: cfg.policies, bundleService: cfg.bundleService, extAuthzPort: extAuthz?.port, proxyUrl: proxy?.url, probePort: probe.port,
      lease: reporter?.leaseName,
    }, 'authorizer started; every call is refused until the bundles load');

    let stopping: Promise<void> | undefined;
    return {
      router, gate, decisionPath: gate.decisionPath, catalog, bundles, ...(extAuthz ? { extAuthz } : {}), ...(proxy ? { proxy } : {}), probe,
      ...(reporter ? { reporter } : {}),
      ...(approvals ? { approvals } : {}),
      ...(audit ? { audit } : {}),
      registry,
      ready,
      revisions: () => bundles.revisions(),
      stop() {
        stopping ??= (async () => {
          // Front ends drain first (ext_authz reports NOT_SERVING, in-flight calls finish), then
          // the pod stops counting as an authorizer (Lease deleted), then the probes go.
          await drainFrontEnds(cfg.shutdown, shutdown, { extAuthz, proxy }, log);
          await catalog.close();
          // After the front ends: every decision they made is written before the file closes.
          await audit?.close();
          guard?.stop();
          await approvals?.stop();
          await pinStore?.stop();
          await bundles.stop();
          await reporter?.stop();
          await probe.close();
          await pool?.close();
          log.info({ pod: cfg.podName }, 'authorizer stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    await catalog.close();
    await audit?.close().catch(() => undefined);
    await pool?.close();
    log.error({ err: errorMessage(err) }, 'authorizer failed to start');
    throw err;
  }
}

/**
 * Unready first, still serving for the readiness delay, then no new connections and up to the
 * drain period for what is in flight (shutdown.ts). Without settings: closed at once.
 */
async function drainFrontEnds(settings: ShutdownSettings | undefined, state: ShutdownState, frontEnds: { extAuthz: ExtAuthzServer | undefined; proxy: McpProxy | undefined }, log: Logger): Promise<void> {
  state.begin();
  if (!settings) {
    await Promise.all([frontEnds.extAuthz?.close(), frontEnds.proxy?.close()]);
    return;
  }
  log.info({ readinessDelayMs: settings.readinessDelayMs, drainMs: settings.drainMs }, 'shutting down: unready, still serving until the readiness change propagates');
  await new Promise((r) => setTimeout(r, settings.readinessDelayMs));
  log.info({ drainMs: settings.drainMs }, 'no longer accepting connections; draining the calls in flight');
  await Promise.all([frontEnds.extAuthz?.close(), frontEnds.proxy?.drain(settings.drainMs)]);
}

function defaultRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * RFC 9728 metadata for the audiences of the loaded policies, rebuilt when their identity
 * settings change (bundles carry them, so they are unknown until the first load).
 */
function resourceMetadataRoute(verifiers: PolicyVerifiers): (req: IncomingMessage, res: ServerResponse) => boolean {
  let key = '';
  let handler: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  return (req, res) => {
    const identities = verifiers.identities();
    const next = JSON.stringify(identities.map((i) => [i.audience, i.issuer, i.jwksUri ?? '']));
    if (next !== key || !handler) {
      key = next;
      const byAudience = new Map<string, string[]>();
      for (const i of identities) byAudience.set(i.audience, [...new Set([...(byAudience.get(i.audience) ?? []), i.issuer])]);
      const docs = [...byAudience].flatMap(([resource, issuers]) => {
        if (!metadataUrlOf(resource)) return []; // an audience that is not an http(s) URL has no well-known location
        try {
          return [protectedResourceMetadata({ resource, authorizationServers: issuers, resourceName: 'toolgate MCP gateway' })];
        } catch {
          return [];
        }
      });
      handler = protectedResourceMetadataHandler(docs);
    }
    return handler(req, res);
  };
}

/** The trail and its sinks (docs/audit-sinks.md). */
/**
 * The OAuth scopes a call's tool requires by its policy's classification (the record's
 * `scopes`, compliance row A3): what the decision checked the token's scopes against.
 */
export function classifiedScopes(router: PolicyRouter): (call: ToolCall) => string[] | undefined {
  return (call) => {
    const route = router.route(call.server);
    if (!route.ok) return undefined;
    const c = route.entry.engine.classify(policyInput(call));
    return c.valid ? c.scopes : undefined;
  };
}

/** The argument fields the governing policy's profiles and toolOverrides mark personal for a call's tool. */
export function markedPersonalFields(router: PolicyRouter): (call: ToolCall) => readonly string[] | undefined {
  return (call) => {
    const route = router.route(call.server);
    if (!route.ok || call.operation) return undefined;
    return route.entry.gateway?.personalFields?.[call.server]?.[call.tool];
  };
}

async function openAuditTrail(cfg: AuthorizerConfig, log: Logger, registry: Registry, router: PolicyRouter): Promise<AuditTrail> {
  const a = cfg.audit!;
  const retention = a.retention ?? defaultRetention;
  const sinks = await buildSinks(a.sinks ?? [], { instance: cfg.podName, retention, ...(cfg.auditS3Client ? { s3Client: cfg.auditS3Client } : {}) });
  return AuditTrail.open({
    file: a.file, log, registry, sinks,
    // The chain's name, and its sealing, digest and redaction settings (AUDIT_SIGNING_KEY_FILE, …).
    instance: cfg.podName,
    requiredScopes: classifiedScopes(router),
    personalFields: markedPersonalFields(router),
    ...(await auditSealingFromEnv()),
    ...(a.fsync !== undefined ? { fsync: a.fsync } : {}),
    ...(a.closeTimeoutMs !== undefined ? { sinkCloseTimeoutMs: a.closeTimeoutMs } : {}),
    // Rotated by size and day; rotated files are deleted at the end of their retention, each by a recorded expiry (audit/rotation.ts).
    ...(a.fileRotation ? { rotation: { maxBytes: a.fileRotation.maxBytes, daily: a.fileRotation.daily }, retention, retentionSweepMs: a.fileRotation.sweepMs } : {}),
  });
}

/** One /readyz check per audit sink: "audit-sink-<name>" with its mode, state and backlog. */
function auditSinkReadiness(audit: AuditTrail | undefined): Record<string, () => { ok: boolean; detail: string }> {
  return Object.fromEntries((audit?.sinks ?? []).map((s) => [`audit-sink-${s.name}`, () => s.readiness()]));
}
