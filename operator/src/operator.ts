// Assembles the operator: informers for the three kinds, the controllers, leader election and
// the probe server. Every replica watches (caches stay warm for a fast failover and, later,
// for serving bundles); only the leader writes.
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import type { ApprovalRequest, McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { PolicyController } from './controllers/policy-controller.ts';
import type { PolicyValidator } from './controllers/policy-status.ts';
import { KubeClient } from './kube/client.ts';
import { EventRecorder } from './kube/events.ts';
import { ResourceInformer } from './kube/informer.ts';
import { LeaderElector } from './kube/leader.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { createOperatorMetrics } from './observability/metrics.ts';
import { startProbeServer, type ProbeServer } from './observability/server.ts';

export interface OperatorConfig {
  kubeConfig?: KubeConfig;
  /** Namespace of the leader Lease. */
  leaseNamespace: string;
  leaseName?: string;
  identity?: string;
  probePort: number;
  probeHost?: string;
  validate: PolicyValidator;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log?: Logger;
}

export interface RunningOperator {
  identity: string;
  probe: ProbeServer;
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

  const policies = new ResourceInformer<McpSecurityPolicy>({ resource: { group, version, plural: 'mcpsecuritypolicies' }, client, log, metrics });
  const profiles = new ResourceInformer<McpProfile>({ resource: { group, version, plural: 'mcpprofiles' }, client, log, metrics });
  const approvals = new ResourceInformer<ApprovalRequest>({ resource: { group, version, plural: 'approvalrequests' }, client, log, metrics });
  const informers = [policies, profiles, approvals];

  const events = new EventRecorder({ client, controller: 'toolgate.io/operator', instance: identity, log });
  let leading = false;
  const policyController = new PolicyController({ client, policies, profiles, validate: cfg.validate, events, log, metrics, canWrite: () => leading });

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
    },
    onStoppedLeading: () => {
      leading = false;
      metrics.leader.set(0);
    },
  });

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
  log.info({ identity, probePort: probe.port, server: kc.getCurrentCluster()?.server }, 'operator started');

  return {
    identity,
    probe,
    isLeader: () => leading,
    policies,
    async stop() {
      policyController.queue.stop();
      await elector.stop();
      await Promise.all(informers.map((i) => i.stop()));
      await probe.close();
      log.info({ identity }, 'operator stopped');
    },
  };
}

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
