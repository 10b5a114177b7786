// Which policy governs a server. An authorizer enforces one or more McpSecurityPolicies (one
// bundle each); every governed server name must belong to exactly one of them. A server that
// two loaded policies both claim is refused rather than decided by whichever loaded last.
import { PolicyEngine, type PolicyEngineOptions } from '../../../pkg/policy/engine/index.ts';
import type { PolicyWorkerPool } from '../../../pkg/policy/pool/index.ts';
import type { CompiledSession } from '../../../pkg/policy/compiler/types.ts';
import type { GatewayConfig, GatewayServer } from './types.ts';

export interface PolicyEntry {
  /** `<namespace>/<name>` of the McpSecurityPolicy (= the bundle name). */
  key: string;
  engine: PolicyEngine;
  /** From the loaded bundle; undefined until the first load. */
  gateway?: GatewayConfig;
  /** Per server, the tools whose labels depend on arguments and what rules read labels (from the compiled data). */
  argumentSensitivity?: ArgumentSensitivity;
  /** The policy's velocity limits and flow rules (compiled spec.session), when it has any. */
  session?: CompiledSession;
}

/**
 * What the compiled data says about how arguments can change a decision: only argument
 * classifiers depend on arguments, and they only add labels, so a decision can change with the
 * arguments only if the tool has classifiers and some rule it is evaluated against reads labels.
 */
export interface ArgumentSensitivity {
  /** Rule names in evaluation order, and whether each reads labels. */
  rules: Array<{ name: string; readsLabels: boolean }>;
  /** Per server: tool → its candidate rule indexes (ascending) when it has classifiers. */
  classifiedTools: Map<string, Map<string, number[]>>;
}

export type Route =
  | { ok: true; entry: PolicyEntry; server: GatewayServer }
  | { ok: false; reason: 'unknown-server' | 'ambiguous-server' | 'not-loaded'; message: string };

export class PolicyRouter {
  readonly #entries = new Map<string, PolicyEntry>();
  readonly #engine: PolicyEngineOptions;

  /** `pool`: every policy's decisions are evaluated on these worker threads (pkg/policy/pool). */
  constructor(o: { pool?: PolicyWorkerPool } = {}) {
    this.#engine = o.pool ? { pool: o.pool } : {};
  }

  /** The entry for a policy, created (with an empty, deny-all engine) on first use. */
  entry(key: string): PolicyEntry {
    let e = this.#entries.get(key);
    if (!e) this.#entries.set(key, (e = { key, engine: new PolicyEngine(this.#engine) }));
    return e;
  }

  keys(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Records what a newly loaded bundle says about servers and classifiers. */
  update(key: string, loaded: { gateway?: GatewayConfig; data?: unknown }): void {
    const e = this.entry(key);
    e.gateway = loaded.gateway;
    e.argumentSensitivity = argumentSensitivity(loaded.data);
    e.session = (loaded.data as { toolgate?: { compiled?: { session?: CompiledSession } } } | undefined)?.toolgate?.compiled?.session;
  }

  route(server: string): Route {
    const owners: Array<{ entry: PolicyEntry; server: GatewayServer }> = [];
    let loaded = 0;
    for (const entry of this.#entries.values()) {
      if (!entry.gateway) continue;
      loaded++;
      const s = entry.gateway.servers.find((x) => x.name === server);
      if (s) owners.push({ entry, server: s });
    }
    if (owners.length === 1) return { ok: true, ...owners[0]! };
    if (owners.length > 1) {
      return { ok: false, reason: 'ambiguous-server', message: `server "${server}" is governed by more than one policy (${owners.map((o) => o.entry.key).join(', ')}); refusing to choose` };
    }
    if (loaded < this.#entries.size) return { ok: false, reason: 'not-loaded', message: `no policy bundle governing server "${server}" is loaded yet` };
    return { ok: false, reason: 'unknown-server', message: `server "${server}" is not governed by any policy this authorizer enforces` };
  }

  /** Every governed server of every loaded policy. */
  servers(): Array<{ entry: PolicyEntry; server: GatewayServer }> {
    const out: Array<{ entry: PolicyEntry; server: GatewayServer }> = [];
    for (const entry of this.#entries.values()) for (const server of entry.gateway?.servers ?? []) out.push({ entry, server });
    return out;
  }
}

interface CompiledView {
  policies?: Array<{ name: string; when?: { labelsAll?: string[]; labelsAny?: string[] } }>;
  candidateLists?: number[][];
  servers?: Record<string, { tools?: Record<string, { classifiers?: unknown[]; candidates?: number }> }>;
}

function argumentSensitivity(data: unknown): ArgumentSensitivity | undefined {
  const compiled = (data as { toolgate?: { compiled?: CompiledView } } | undefined)?.toolgate?.compiled;
  if (!compiled?.servers || !compiled.policies || !compiled.candidateLists) return undefined;
  const rules = compiled.policies.map((p) => ({ name: p.name, readsLabels: (p.when?.labelsAll?.length ?? 0) + (p.when?.labelsAny?.length ?? 0) > 0 }));
  const classifiedTools = new Map<string, Map<string, number[]>>();
  for (const [server, s] of Object.entries(compiled.servers)) {
    const tools = new Map<string, number[]>();
    for (const [tool, t] of Object.entries(s.tools ?? {})) {
      if ((t.classifiers?.length ?? 0) > 0) tools.set(tool, compiled.candidateLists[t.candidates ?? -1] ?? rules.map((_, i) => i));
    }
    classifiedTools.set(server, tools);
  }
  return { rules, classifiedTools };
}
