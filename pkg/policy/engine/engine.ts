// PolicyEngine: evaluates tools/calls with the wasm-compiled toolgate policy and a compiled
// data document. Fail-closed throughout: no policy, an evaluation error or a result that is not
// a well-formed decision all answer deny. A new policy replaces the old one only once it is
// fully loaded and has answered a probe, so a bad bundle never takes the engine down.
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { checkDecision } from './check.ts';
import { ENTRYPOINTS, RULES, type Classification, type Decision, type PolicyInput } from './types.ts';

/** Compiled policy.wasm bytes or module, as opa-wasm's loadPolicy takes them. */
export type PolicyWasm = Parameters<typeof loadPolicy>[0];

export interface LoadedBundleInfo {
  revision: string;
  loadedAt: Date;
}

interface Active extends LoadedBundleInfo {
  policy: LoadedPolicy;
  seq: number;
}

export class PolicyLoadError extends Error {
  override name = 'PolicyLoadError';
}

export function denyDecision(rule: string, reason: string): Decision {
  return {
    action: 'deny',
    rule,
    reasons: [reason],
    labels: [],
    annotations: {},
    verb: '',
    approvers: [],
    quorum: 0,
    timeout: '',
    enforcement: 'enforce',
    sources: [],
  };
}

export class PolicyEngine {
  #active: Active | undefined;
  #seq = 0;

  /** The bundle in force, or undefined before the first successful load. */
  get current(): LoadedBundleInfo | undefined {
    const a = this.#active;
    return a && { revision: a.revision, loadedAt: a.loadedAt };
  }

  /**
   * Loads policy.wasm with its data and swaps it in. If loading fails the previous policy stays
   * in force and the error is thrown. When loads overlap, the one started last wins even if an
   * earlier one finishes after it.
   */
  async load(wasm: PolicyWasm, data: unknown, revision = ''): Promise<LoadedBundleInfo> {
    const seq = ++this.#seq;
    const policy = await prepare(wasm, data);
    const next: Active = { policy, revision, loadedAt: new Date(), seq };
    if (!this.#active || this.#active.seq < seq) this.#active = next;
    return { revision: next.revision, loadedAt: next.loadedAt };
  }

  /** Forgets the policy; every call is denied until the next load. */
  unload(): void {
    this.#seq++;
    this.#active = undefined;
  }

  evaluate(input: PolicyInput): Decision {
    const active = this.#active;
    if (!active) return denyDecision(RULES.noPolicy, 'no policy bundle loaded');
    let result: unknown;
    try {
      result = evaluateEntrypoint(active.policy, input, ENTRYPOINTS.decision);
    } catch (err) {
      return denyDecision(RULES.evaluationError, `policy evaluation failed: ${message(err)}`);
    }
    const problem = checkDecision(result);
    if (problem) return denyDecision(RULES.evaluationError, `policy returned no usable decision: ${problem}`);
    return result as Decision;
  }

  classify(input: PolicyInput): Classification {
    const active = this.#active;
    if (!active) return { valid: false, errors: ['no policy bundle loaded'] };
    try {
      const result = evaluateEntrypoint(active.policy, input, ENTRYPOINTS.classification) as Classification | undefined;
      if (result && typeof result === 'object' && typeof result.valid === 'boolean') return result;
      return { valid: false, errors: ['policy returned no classification'] };
    } catch (err) {
      return { valid: false, errors: [`policy evaluation failed: ${message(err)}`] };
    }
  }
}

function evaluateEntrypoint(policy: LoadedPolicy, input: unknown, entrypoint: string): unknown {
  // opa-wasm cannot serialise `undefined`; null reaches the policy, which denies it as not an object.
  const resultSet = policy.evaluate(input === undefined ? null : input, entrypoint) as Array<{ result?: unknown }> | undefined;
  return resultSet?.[0]?.result;
}

async function prepare(wasm: PolicyWasm, data: unknown): Promise<LoadedPolicy> {
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicy(wasm);
  } catch (err) {
    throw new PolicyLoadError(`cannot load policy wasm: ${message(err)}`, { cause: err });
  }
  const entrypoints = Object.keys((policy.entrypoints ?? {}) as Record<string, number>);
  for (const e of Object.values(ENTRYPOINTS)) {
    if (!entrypoints.includes(e)) throw new PolicyLoadError(`policy wasm has no entrypoint ${e} (has: ${entrypoints.join(', ') || 'none'})`);
  }
  const missing = hostBuiltins(policy);
  if (missing.length > 0) {
    // The JS SDK would supply these, with semantics that may differ from OPA's; the program is
    // meant to need none, so a wasm that does was built from the wrong Rego.
    throw new PolicyLoadError(`policy wasm needs builtins implemented outside the wasm: ${missing.join(', ')}`);
  }
  try {
    policy.setData(data as object);
  } catch (err) {
    throw new PolicyLoadError(`cannot load policy data: ${message(err)}`, { cause: err });
  }
  // A probe call proves the pair evaluates and that the data is a document this program reads:
  // with unusable data every call would be denied as toolgate:no-data, and keeping the previous
  // policy is better than enforcing that.
  let probe: unknown;
  try {
    probe = evaluateEntrypoint(policy, {}, ENTRYPOINTS.decision);
  } catch (err) {
    throw new PolicyLoadError(`policy does not evaluate: ${message(err)}`, { cause: err });
  }
  const problem = checkDecision(probe);
  if (problem) throw new PolicyLoadError(`policy returned no usable decision for a probe call: ${problem}`);
  const rule = (probe as Decision).rule;
  if (rule === RULES.noData) throw new PolicyLoadError(`data is not a compiled toolgate document this policy understands: ${(probe as Decision).reasons.join('; ')}`);
  if (rule !== RULES.invalidInput) throw new PolicyLoadError(`the probe call should be denied as ${RULES.invalidInput}, got ${rule}`);
  return policy;
}

/** Names of builtins the wasm module imports from the host (the SDK's JavaScript). */
function hostBuiltins(policy: LoadedPolicy): string[] {
  const exports = (policy.wasmInstance as unknown as { exports: Record<string, unknown> }).exports;
  const builtins = exports.builtins as (() => number) | undefined;
  const dump = exports.opa_json_dump as ((addr: number) => number) | undefined;
  if (!builtins || !dump) return [];
  const start = dump(builtins());
  const mem = new Uint8Array(policy.mem.buffer);
  let end = start;
  while (mem[end] !== 0) end++;
  return Object.keys(JSON.parse(new TextDecoder().decode(mem.subarray(start, end))) as Record<string, number>).sort();
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
