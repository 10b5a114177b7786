// One opa-wasm instance of a loaded policy that outlives its own failures.
//
// An evaluation that aborts inside the wasm (opa_abort: its JSON reader refusing the input, an
// allocation failing) unwinds through JavaScript and leaves the module's shadow-stack pointer
// where the abort found it. opa-wasm never resets that pointer (the module does not export it),
// so every abort leaks stack, and after about a thousand of them the instance traps on every
// call ("memory access out of bounds") until the process restarts: measured, 1 023 aborting
// calls turned every later decision into a deny. A caller who can make evaluations abort could
// take the authorizer down that way. So an instance that saw an evaluation fail is replaced:
// a fresh one is made from the compiled module and the same data in the background and swapped
// in when ready. Until then the old one keeps answering (the leak only shortens its stack, and
// running out traps, which the caller turns into a deny); after RESTORE_LIMIT failures without
// a fresh instance it is not used at all.
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { hostBuiltinImpls } from './regex.ts';

/** Failed evaluations an instance may see before it stops answering until its replacement is ready (a quarter of the measured 1 023). */
export const RESTORE_LIMIT = 256;

/** A fresh opa-wasm instance of a compiled module, with its data set. */
export async function instantiatePolicy(module: WebAssembly.Module, data: ArrayBuffer | undefined): Promise<LoadedPolicy> {
  const policy = await loadPolicy(module, undefined, hostBuiltinImpls);
  policy.setData(data as object);
  return policy;
}

export class PolicyInstance {
  #policy: LoadedPolicy;
  readonly #module: WebAssembly.Module;
  /** The data as JSON bytes (policy-input.ts encodePolicyData). */
  readonly #data: ArrayBuffer | undefined;
  /** Failed evaluations since the instance in use was made. */
  #failures = 0;
  #restoring: Promise<void> | undefined;
  /** Fresh instances swapped in after failures (tests, diagnostics). */
  restores = 0;

  constructor(policy: LoadedPolicy, module: WebAssembly.Module, data: ArrayBuffer | undefined) {
    this.#policy = policy;
    this.#module = module;
    this.#data = data;
  }

  /** The opa-wasm instance answering now (entrypoints, memory: read-only use). */
  get policy(): LoadedPolicy {
    return this.#policy;
  }

  /** opa-wasm's evaluate; throws what it throws, and replaces the instance after a failure. */
  evaluate(input: ArrayBuffer | null, entrypoint: string): unknown {
    if (this.#failures >= RESTORE_LIMIT) {
      this.#restore();
      throw new Error(`the policy instance failed ${this.#failures} evaluations and is being replaced; refused until it is`);
    }
    try {
      return this.#policy.evaluate(input, entrypoint);
    } catch (err) {
      this.#failures++;
      this.#restore();
      throw err;
    }
  }

  /** Resolves once no replacement is being made (tests). */
  async settled(): Promise<void> {
    while (this.#restoring) await this.#restoring;
  }

  #restore(): void {
    if (this.#restoring) return;
    this.#restoring = instantiatePolicy(this.#module, this.#data).then((fresh) => {
      this.#policy = fresh;
      this.#failures = 0;
      this.restores++;
    }, () => {
      // The same module and data loaded before; if they no longer do, the old instance keeps
      // answering until RESTORE_LIMIT and the next failure tries again.
    }).finally(() => {
      this.#restoring = undefined;
    });
  }
}
