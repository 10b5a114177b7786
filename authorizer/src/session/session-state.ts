// The session state a decision reads and a let-through call updates: velocity counters (this
// replica's memory: see README.md for why that is correct behind session affinity) and taint
// (TaintStore: durable and shared). The Rego decides what the state means (session.rego); this
// only says what happened before, and records what the decision says a call counts toward.
import type { CompiledLimit, CompiledSession } from '../../../pkg/policy/compiler/types.ts';
import type { PolicyInput } from '../../../pkg/policy/engine/index.ts';
import type { Decision } from '../../../pkg/contracts/decision.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { sessionKeys, type SessionKeys } from './key.ts';
import type { TaintEntry, TaintStore } from './taint-store.ts';
import { SlidingWindows } from './window.ts';

/** What the decision program reads at input.session. */
export interface SessionInput {
  counts: Record<string, number>;
  taint: TaintEntry[];
}

/** A call's session scope, settled before its decision. */
export interface SessionContext {
  keys: SessionKeys;
  settings: CompiledSession;
  input: SessionInput;
}

export interface SessionStateOptions {
  taint: TaintStore;
  windows?: SlidingWindows;
  now?: () => number;
}

/** The limit a decision was refused by, with what the client may retry after. */
export interface LimitRefusal {
  limit: string;
  retryAfterMs: number;
}

const targetOf = (call: ToolCall) => (call.operation ? `${call.operation.kind}:${call.operation.target ?? ''}` : call.tool);

export class SessionState {
  readonly #taint: TaintStore;
  readonly #windows: SlidingWindows;
  readonly #now: () => number;

  constructor(o: SessionStateOptions) {
    this.#taint = o.taint;
    this.#windows = o.windows ?? new SlidingWindows(o.now ? { now: o.now } : {});
    this.#now = o.now ?? Date.now;
  }

  /**
   * The session input of a call, from what this replica knows. `sink` says whether the decision
   * of that input found the call a sink; if so the taint is read afresh from the durable store,
   * so another replica's (or a previous pod's) taint applies. Throws when the store cannot be read.
   */
  async prepare(call: ToolCall, conversation: string | undefined, settings: CompiledSession, isSink: (input: SessionInput) => boolean): Promise<SessionContext> {
    const keys = sessionKeys(call.caller, call.sessionId, conversation);
    const counts: Record<string, number> = {};
    for (const l of settings.limits) counts[l.name] = this.#windows.count(this.#limitKey(l, keys, call), l.windowMs, capOf(l));
    const scopes = keys.session === keys.caller ? [keys.caller] : [keys.session, keys.caller];
    let input: SessionInput = { counts, taint: scopes.flatMap((k) => this.#taint.cached(k)) };
    if (settings.flows.length > 0 && isSink(input)) {
      const fresh = await Promise.all(scopes.map((k) => this.#taint.fresh(k)));
      input = { counts, taint: fresh.flat() };
    }
    return { keys, settings, input };
  }

  /**
   * A call was let through (forwarded): count it toward its limits and taint its session and
   * caller with its source labels, before it is forwarded. Throws when the taint cannot be
   * written: the caller must then refuse the call (a read nobody remembers is a leak).
   */
  async commit(call: ToolCall, ctx: SessionContext, decision: Decision, decisionId: string): Promise<void> {
    const s = decision.session;
    if (!s) return;
    for (const name of s.counted) {
      const l = ctx.settings.limits.find((x) => x.name === name);
      if (l) this.#windows.add(this.#limitKey(l, ctx.keys, call), l.windowMs, capOf(l));
    }
    if (s.taints.length === 0) return;
    const at = new Date(this.#now()).toISOString();
    const entries: TaintEntry[] = s.taints.map((label) => ({ label, server: call.server, target: targetOf(call), at, decisionId }));
    const { issuer, subject, session } = ctx.keys.scope;
    const writes = [this.#taint.add({ key: ctx.keys.caller, scope: 'caller', issuer, subject }, entries, ctx.settings.taintTtlMs)];
    if (ctx.keys.session !== ctx.keys.caller) writes.push(this.#taint.add({ key: ctx.keys.session, scope: 'session', issuer, subject, ...(session ? { session } : {}) }, entries, ctx.settings.taintTtlMs));
    await Promise.all(writes);
  }

  /** For a call a velocity limit denied: which one, and when the client may try again. */
  limitRefusal(call: ToolCall, ctx: SessionContext, verdict: Verdict): LimitRefusal | undefined {
    const c = verdict.decision.session?.constraint;
    if (!c || c.kind !== 'limit' || verdict.decision.rule !== c.name) return undefined;
    const l = ctx.settings.limits.find((x) => x.name === c.name);
    if (!l) return undefined;
    return { limit: l.name, retryAfterMs: this.#windows.retryAfterMs(this.#limitKey(l, ctx.keys, call), l.windowMs, l.max) };
  }

  #limitKey(l: CompiledLimit, keys: SessionKeys, call: ToolCall): string {
    return JSON.stringify([l.name, l.per === 'caller' ? keys.caller : keys.session, ...(l.perTool ? [call.server, targetOf(call)] : [])]);
  }
}

/** Timestamps a limit needs kept: max of them, or (firstUse) the one that says the first use happened. */
const capOf = (l: CompiledLimit): number => (l.firstUse ? 1 : l.max);

/** The policy input with the session's state, for the decision program. */
export const withSession = (input: PolicyInput, session: SessionInput | undefined): PolicyInput => (session ? { ...input, session } : input);
