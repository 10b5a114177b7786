// Which authorizers enforce which revision. Each authorizer pod keeps a Lease (Gatekeeper's
// per-pod status pattern, without a CRD of our own): holderIdentity is the pod, renewTime
// proves it alive, and the annotation toolgate.io/bundle-revisions maps each policy it
// enforces to the revision it loaded. The operator aggregates them into the policy's
// Distributed condition: "2/3 authorizers at revision X".

import { bundleRevisionsAnnotation } from '../../../api/v1alpha1/index.ts';

export interface Lease {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
}

export interface AuthorizerReport {
  /** `<namespace>/<pod>`. */
  pod: string;
  revisions: Record<string, string>;
  /** When the Lease lapses unless renewed. */
  expiresAt: number;
}

/** The live reports: Leases renewed within their duration, with a parsable annotation. */
export function liveReports(leases: readonly Lease[], now: number): AuthorizerReport[] {
  const out: AuthorizerReport[] = [];
  for (const l of leases) {
    const renew = Date.parse(l.spec?.renewTime ?? l.spec?.acquireTime ?? '');
    const duration = (l.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (!Number.isFinite(renew) || duration <= 0 || renew + duration <= now) continue;
    let revisions: Record<string, string> = {};
    try {
      const parsed: unknown = JSON.parse(l.metadata?.annotations?.[bundleRevisionsAnnotation] ?? '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        revisions = Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
      }
    } catch {
      // An unreadable annotation counts as enforcing nothing.
    }
    out.push({ pod: `${l.metadata?.namespace ?? ''}/${l.spec?.holderIdentity ?? l.metadata?.name ?? ''}`, revisions, expiresAt: renew + duration });
  }
  return out;
}

export interface Distribution {
  /** Authorizers enforcing this policy. */
  total: number;
  /** Of those, at the served revision. */
  current: number;
  status: 'True' | 'False';
  reason: 'AllAuthorizersCurrent' | 'RolloutInProgress' | 'NoAuthorizers' | 'NoBundle';
  message: string;
  /** Earliest Lease expiry among them: re-evaluate then, since no event marks a lapse. */
  nextExpiry?: number;
}

export function distributionFor(bundle: string, servedRevision: string | undefined, reports: readonly AuthorizerReport[]): Distribution {
  const enforcing = reports.filter((r) => bundle in r.revisions);
  const nextExpiry = enforcing.length > 0 ? Math.min(...enforcing.map((r) => r.expiresAt)) : undefined;
  const base = { total: enforcing.length, ...(nextExpiry !== undefined ? { nextExpiry } : {}) };
  if (!servedRevision) return { ...base, current: 0, status: 'False', reason: 'NoBundle', message: 'no bundle is served for this policy' };
  if (enforcing.length === 0) return { ...base, current: 0, status: 'False', reason: 'NoAuthorizers', message: 'no authorizer reports enforcing this policy' };
  const current = enforcing.filter((r) => r.revisions[bundle] === servedRevision).length;
  const stale = enforcing.filter((r) => r.revisions[bundle] !== servedRevision).map((r) => r.pod).sort();
  const message = `${current}/${enforcing.length} authorizers at revision ${servedRevision}` + (stale.length > 0 ? `; behind: ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', ...' : ''}` : '');
  return { ...base, current, status: current === enforcing.length ? 'True' : 'False', reason: current === enforcing.length ? 'AllAuthorizersCurrent' : 'RolloutInProgress', message };
}
