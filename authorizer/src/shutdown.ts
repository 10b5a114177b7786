// How an authorizer pod leaves without failing a decision (a rolling `helm upgrade`, a drained
// node): on SIGTERM /readyz turns unready at once while everything keeps serving, so the
// endpoints controller and Envoy move new traffic to the other replicas; after `readinessDelayMs`
// (the time that takes to propagate) the listeners stop accepting connections, and requests in
// flight (held calls waiting for a person included) get up to `drainMs` to be answered. Only then
// does the rest stop. The pod's terminationGracePeriodSeconds must exceed both together.
import { ConfigError, int } from '../../pkg/env/env.ts';

export interface ShutdownSettings {
  /** Unready but still accepting, so the readiness change reaches every load balancer first. */
  readinessDelayMs: number;
  /** Longest wait for requests in flight once no new connection is accepted. */
  drainMs: number;
}

export const defaultShutdown: ShutdownSettings = { readinessDelayMs: 5_000, drainMs: 20_000 };

/** SHUTDOWN_DELAY_SECONDS and DRAIN_TIMEOUT_SECONDS; together below terminationGracePeriodSeconds (30 in the chart). */
export function shutdownFromEnv(): ShutdownSettings {
  const delay = int('SHUTDOWN_DELAY_SECONDS', defaultShutdown.readinessDelayMs / 1000);
  const drain = int('DRAIN_TIMEOUT_SECONDS', defaultShutdown.drainMs / 1000);
  if (delay + drain > 3600) throw new ConfigError(`SHUTDOWN_DELAY_SECONDS + DRAIN_TIMEOUT_SECONDS must be at most 3600 s, got ${delay + drain}`);
  return { readinessDelayMs: delay * 1000, drainMs: drain * 1000 };
}

/** The readiness check a stopping authorizer fails. */
export class ShutdownState {
  private since: number | undefined;
  begin(): void {
    this.since ??= Date.now();
  }
  get stopping(): boolean {
    return this.since !== undefined;
  }
  readiness(): { ok: boolean; detail: string } {
    return this.since === undefined ? { ok: true, detail: 'serving' } : { ok: false, detail: 'shutting down: draining calls in flight' };
  }
}
