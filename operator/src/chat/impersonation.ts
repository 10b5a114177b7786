// A KubeClient that acts as another identity: the endpoint's own credentials authenticate, and
// the API server then authorizes and admits the request as the impersonated user and groups
// (Impersonate-User via client-node's `impersonateUser`, one Impersonate-Group header per group,
// which client-node does not set). The admission policy therefore sees the person, not us.
import type { RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../../pkg/kube/client.ts';
import type { KubernetesIdentity } from './identity-map.ts';

class ImpersonatingKubeConfig extends KubeConfig {
  private readonly groups: readonly string[];
  constructor(groups: readonly string[]) {
    super();
    this.groups = groups;
  }

  override async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const headers = (opts.headers ??= {}) as Record<string, string | string[] | number>;
    // Never inherit an impersonation from the base kubeconfig: exactly these groups, or none.
    for (const k of Object.keys(headers)) if (/^impersonate-(group|uid|extra-)/i.test(k)) delete headers[k];
    if (this.groups.length) headers['Impersonate-Group'] = [...this.groups];
  }
}

export function impersonatingClient(base: KubeConfig, who: KubernetesIdentity): KubeClient {
  const kc = new ImpersonatingKubeConfig(who.groups);
  kc.loadFromOptions({
    clusters: base.clusters,
    users: base.users.map((u) => ({ ...u, impersonateUser: who.username })),
    contexts: base.contexts,
    currentContext: base.currentContext,
  });
  return new KubeClient(kc);
}
