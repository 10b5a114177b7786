// PolicyEngine: evaluates tools/calls with the wasm-compiled toolgate policy and a compiled
// data document. Fail-closed throughout: no policy, an evaluation error or a result that is not
// a well-formed decision all answer deny. A new policy replaces the old one only once it is
// fully loaded and has answered a probe, so a bad bundle never takes the engine down.
//
// With a worker pool (pkg/policy/pool), evaluateDecision() runs on a worker thread: a bundle is
// reported active only once every worker holds it, an evaluation runs under the policy that was
// active when it started, and one that finds another policy active when it comes back is
// decided again under that one, so no answer is older than the revision reported when it is
// given. A lost worker refuses its calls (evaluation error naming the worker), never allows.
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { PolicyWorkerExit, type PolicyWorkerPool } from '../pool/pool.ts';
import { checkDecision } from './check.ts';
import { PolicyInstance } from './instance.ts';
import { hostBuiltinImpls } from './regex.ts';
import { encodePolicyData, policyInputBytes, policyInputText } from './policy-input.ts';
import { ENTRYPOINTS, RULES, type Classification, type Decision, type PolicyInput } from './types.ts';

/** Compiled policy.wasm bytes or module, as opa-wasm's loadPolicy takes them. */
export type PolicyWasm = Parameters<typeof loadPolicy>[0];

export interface LoadedBundleInfo {
  revision: string;
  loadedAt: Date;
}

interface Active extends LoadedBundleInfo {
  policy: PolicyInstance;
  seq: number;
}

/** A decision and the revision of the policy that took it. */
export interface Evaluated {
  decision: Decision;
  revision: string;
}

export interface PolicyEngineOptions {
  /** Evaluate decisions on these worker threads (evaluateDecision); without it, in-process. */
  pool?: PolicyWorkerPool;
}

let engineIds = 0;

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
  readonly #pool: PolicyWorkerPool | undefined;
  readonly #id = ++engineIds;
  /** Per load sequence held by the pool: evaluations in flight under it. */
  readonly #inflight = new Map<number, number>();

  constructor(o: PolicyEngineOptions = {}) {
    this.#pool = o.pool;
  }

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
    const pool = this.#pool;
    // Compiled once: the workers and any replacement instance (instance.ts) are made from it.
    const module = await compileWasm(wasm);
    let bytes: ArrayBuffer | undefined;
    try {
      bytes = encodePolicyData(data);
    } catch (err) {
      throw new PolicyLoadError(`cannot load policy data: ${message(err)}`, { cause: err });
    }
    const policy = await prepare(module, bytes);
    if (pool) {
      // The probe passed here; every worker holds the pair before anyone is told it is active.
      this.#inflight.set(seq, 0);
      try {
        await pool.load(this.#key(seq), module, bytes);
      } catch (err) {
        this.#inflight.delete(seq);
        throw new PolicyLoadError(`policy workers cannot load the bundle: ${message(err)}`, { cause: err });
      }
    }
    const next: Active = { policy: new PolicyInstance(policy, module, bytes), revision, loadedAt: new Date(), seq };
    const previous = this.#active;
    if (!previous || previous.seq < seq) {
      this.#active = next;
      if (previous) this.#retire(previous.seq);
    } else {
      this.#retire(seq);
    }
    return { revision: next.revision, loadedAt: next.loadedAt };
  }

  /** Forgets the policy; every call is denied until the next load. */
  unload(): void {
    this.#seq++;
    const previous = this.#active;
    this.#active = undefined;
    if (previous) this.#retire(previous.seq);
  }

  /**
   * The decision for a tools/call and the revision that took it: on a worker when the engine
   * has a pool, else in-process. Never rejects; any failure is a deny.
   */
  async evaluateDecision(input: PolicyInput): Promise<Evaluated> {
    const started = this.#active;
    const pool = this.#pool;
    if (!started || !pool) return { decision: this.evaluate(input), revision: started?.revision ?? '' };
    let text: string | null;
    try {
      text = policyInputText(input);
    } catch (err) {
      return { decision: denyDecision(RULES.evaluationError, `policy evaluation failed: the input has no JSON form the policy can read: ${message(err)}`), revision: started.revision };
    }
    // The same text on this thread's instance of the same load, if the pool answers it here.
    const local = () => (started.policy.evaluate(policyInputBytes(text), ENTRYPOINTS.decision) as Array<{ result?: unknown }> | undefined)?.[0]?.result;
    const pending = pool.evaluate(this.#key(started.seq), ENTRYPOINTS.decision, text, local);
    if (!pending) return { decision: this.evaluate(input), revision: started.revision };
    this.#inflight.set(started.seq, (this.#inflight.get(started.seq) ?? 0) + 1);
    let result: unknown;
    try {
      result = await pending;
    } catch (err) {
      if (err instanceof PolicyWorkerExit) return { decision: denyDecision(RULES.evaluationError, `policy evaluation lost: ${err.message}; the call is refused`), revision: started.revision };
      return { decision: denyDecision(RULES.evaluationError, `policy evaluation failed: ${message(err)}`), revision: started.revision };
    } finally {
      const left = (this.#inflight.get(started.seq) ?? 1) - 1;
      this.#inflight.set(started.seq, left);
      if (left === 0 && this.#active?.seq !== started.seq) this.#retire(started.seq);
    }
    // Another bundle became active meanwhile: answer under it, atomically, in-process.
    const now = this.#active;
    if (now !== started) return { decision: this.evaluate(input), revision: now?.revision ?? '' };
    const problem = checkDecision(result);
    if (problem) return { decision: denyDecision(RULES.evaluationError, `policy returned no usable decision: ${problem}`), revision: started.revision };
    return { decision: result as Decision, revision: started.revision };
  }

  #key(seq: number): string {
    return `${this.#id}#${seq}`;
  }

  /** Drops a no-longer-active load from the workers once nothing is evaluated under it. */
  #retire(seq: number): void {
    if (!this.#pool || !this.#inflight.has(seq) || (this.#inflight.get(seq) ?? 0) > 0) return;
    this.#inflight.delete(seq);
    this.#pool.drop(this.#key(seq));
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

function evaluateEntrypoint(policy: { evaluate(input: ArrayBuffer | null, entrypoint: string): unknown }, input: unknown, entrypoint: string): unknown {
  let bytes: ArrayBuffer | null;
  try {
    bytes = policyInputBytes(policyInputText(input));
  } catch (err) {
    throw new Error(`the input has no JSON form the policy can read: ${message(err)}`, { cause: err });
  }
  const resultSet = policy.evaluate(bytes, entrypoint) as Array<{ result?: unknown }> | undefined;
  return resultSet?.[0]?.result;
}

/** The WebAssembly global: this project's type libraries declare its types, not the value. */
const wasmGlobal = (globalThis as unknown as {
  WebAssembly: { Module: abstract new (...args: never[]) => WebAssembly.Module; compile(bytes: ArrayBufferView | ArrayBuffer): Promise<WebAssembly.Module> };
}).WebAssembly;

/** Compiled once per load, then handed to every worker (a Module is cloned to a thread, not recompiled from bytes there). */
async function compileWasm(wasm: PolicyWasm): Promise<WebAssembly.Module> {
  if (wasm instanceof wasmGlobal.Module) return wasm;
  try {
    return await wasmGlobal.compile(wasm as ArrayBufferView | ArrayBuffer);
  } catch (err) {
    throw new PolicyLoadError(`cannot load policy wasm: ${message(err)}`, { cause: err });
  }
}

async function prepare(wasm: PolicyWasm, data: unknown): Promise<LoadedPolicy> {
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicy(wasm, undefined, hostBuiltinImpls);
  } catch (err) {
    throw new PolicyLoadError(`cannot load policy wasm: ${message(err)}`, { cause: err });
  }
  const entrypoints = Object.keys((policy.entrypoints ?? {}) as Record<string, number>);
  for (const e of Object.values(ENTRYPOINTS)) {
    if (!entrypoints.includes(e)) throw new PolicyLoadError(`policy wasm has no entrypoint ${e} (has: ${entrypoints.join(', ') || 'none'})`);
  }
  const missing = hostBuiltins(policy).filter((name) => !Object.hasOwn(hostBuiltinImpls, name));
  if (missing.length > 0) {
    // The JS SDK would supply these, with semantics that may differ from OPA's; the program
    // needs only toolgate's own (regex.ts), so a wasm that needs more was built from the wrong Rego.
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
