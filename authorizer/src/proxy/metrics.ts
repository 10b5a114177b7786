// Proxy-side metrics; decisions themselves are counted by the shared GatewayMetrics. Label
// values are bounded: HTTP methods and statuses, governed server names (from the policy), and
// a fixed set of outcomes.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ProxyMetrics {
  request(method: string, status: number): void;
  upstream(server: string, method: string, status: string, seconds: number): void;
  sessions(delta: number): void;
  /** A session was ended to make room (its caller at the per-caller limit). */
  sessionEvicted?(reason: 'caller-limit'): void;
  /** A proxy task was created or ended (tasks/serve.ts). */
  task?(event: TaskEvent): void;
}

export type TaskEvent = 'created' | 'completed' | 'failed' | 'cancelled';

export function createProxyMetrics(registry: Registry): ProxyMetrics {
  const requests = new Counter({
    name: 'toolgate_proxy_http_requests_total',
    help: 'Downstream HTTP requests to the MCP proxy by method and status.',
    labelNames: ['method', 'status'] as const,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: 'toolgate_proxy_upstream_request_duration_seconds',
    help: 'Time until an upstream MCP server answered (response headers), by server, HTTP method and status.',
    labelNames: ['server', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const sessions = new Gauge({
    name: 'toolgate_proxy_sessions',
    help: 'Open downstream MCP sessions.',
    registers: [registry],
  });
  const evicted = new Counter({
    name: 'toolgate_proxy_sessions_evicted_total',
    help: 'Downstream MCP sessions ended to make room, by reason (caller-limit: its caller opened one more at the per-caller limit).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const tasks = new Counter({
    name: 'toolgate_proxy_tasks_total',
    help: 'Proxy MCP tasks (tools/call run as a task, held for approval or not) created, and how they ended.',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const knownMethod = (m: string) => (['GET', 'POST', 'DELETE', 'OPTIONS'].includes(m) ? m : 'other');
  return {
    request(method, status) {
      requests.inc({ method: knownMethod(method), status: String(status) });
    },
    upstream(server, method, status, seconds) {
      upstream.observe({ server, method: knownMethod(method), status }, seconds);
    },
    sessions(delta) {
      sessions.inc(delta);
    },
    sessionEvicted(reason) {
      evicted.inc({ reason });
    },
    task(event) {
      tasks.inc({ event });
    },
  };
}

/** What the replay windows hold across every session, and how often the budget emptied one. */
export function registerReplayGauges(registry: Registry, budget: { readonly bytes: number; readonly maxBytes: number; readonly streamsShed: number }): void {
  new Gauge({
    name: 'toolgate_proxy_replay_bytes',
    help: 'SSE event text kept for resuming clients across every session (bounded by the replay budget).',
    registers: [registry],
    collect() {
      this.set(budget.bytes);
    },
  });
  new Gauge({
    name: 'toolgate_proxy_replay_budget_bytes',
    help: 'The replay budget: SSE event text kept across every session at most.',
    registers: [registry],
    collect() {
      this.set(budget.maxBytes);
    },
  });
  new Counter({
    name: 'toolgate_proxy_replay_streams_shed_total',
    help: 'Streams whose replay window was emptied to stay within the replay budget (a client resuming one is told its events are gone).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(budget.streamsShed);
    },
  });
}
