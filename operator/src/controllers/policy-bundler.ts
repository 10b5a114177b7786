// Compiles one McpSecurityPolicy (with the McpProfiles it references) into a signed OPA bundle
// and puts it in the BundleStore. Runs on every replica, leader or not, so each can serve
// bundles; the build is deterministic, so all replicas serve the same revision. A policy that
// no longer compiles leaves its last good bundle in the store: authorizers keep enforcing the
// previous revision rather than nothing, and the status says so.
import type { McpProfile, McpSecurityPolicy } from '../../../api/v1alpha1/index.ts';
import { buildBundle, bundleRevision, type BundleSigner, type BundleStore } from '../bundle/index.ts';
import { bundleInputsFor } from '../../../pkg/bundle/inputs.ts';
import { compilePolicy, type CompileCounts, type Problem } from '../../../pkg/policy/compiler/index.ts';
import { objectKey } from '../../../pkg/kube/informer.ts';
import { errorMessage, type Logger } from '../../../pkg/observability/log.ts';

export interface BundleOutcome {
  problems: Problem[];
  counts: CompileCounts;
  /** The revision the store serves for this policy now: this generation's, or the last good one. */
  servedRevision?: string;
  /** True when servedRevision was compiled from the current spec and profiles. */
  current: boolean;
  /** Why the bundle could not be built although the policy is valid (signing key, wasm, size). */
  buildError?: string;
}

export interface PolicyBundlerOptions {
  store: BundleStore;
  /** The compiled Rego program (policy.wasm), the same for every policy. */
  policyWasm: Uint8Array;
  /** Resolves the signer; rejects while the signing key is unavailable. */
  signer: () => Promise<BundleSigner>;
  log: Logger;
}

/** The bundle name of a policy: `<namespace>/<name>`, as authorizers request it. */
export const bundleNameFor = (policy: McpSecurityPolicy): string => objectKey(policy);

export class PolicyBundler {
  readonly #o: PolicyBundlerOptions;
  /** Inputs fingerprint → outcome, per policy, so a resync or an unrelated event costs no compile. */
  readonly #last = new Map<string, { fingerprint: string; outcome: BundleOutcome }>();

  constructor(o: PolicyBundlerOptions) {
    this.#o = o;
  }

  async sync(policy: McpSecurityPolicy, profiles: ReadonlyMap<string, McpProfile>): Promise<BundleOutcome> {
    const name = bundleNameFor(policy);
    const fingerprint = inputsFingerprint(policy, profiles);
    const cached = this.#last.get(name);
    if (cached?.fingerprint === fingerprint && !cached.outcome.buildError) return cached.outcome;

    const served = () => this.#o.store.get(name)?.revision;
    const result = compilePolicy(policy, profiles);
    let outcome: BundleOutcome;
    if (!result.data) {
      outcome = { problems: result.problems, counts: result.counts, servedRevision: served(), current: false };
    } else {
      const inputs = bundleInputsFor(policy, result.data, this.#o.policyWasm);
      try {
        const revision = bundleRevision(inputs);
        if (served() !== revision) {
          const built = await buildBundle({ ...inputs, revision, signer: await this.#o.signer() });
          this.#o.store.put(name, { revision: built.revision, archive: built.archive });
          this.#o.log.info({ bundle: name, revision, bytes: built.archive.length, ...result.counts }, 'bundle built');
        }
        outcome = { problems: [], counts: result.counts, servedRevision: revision, current: true };
      } catch (err) {
        this.#o.log.error({ bundle: name, err: errorMessage(err) }, 'bundle build failed');
        outcome = { problems: [], counts: result.counts, servedRevision: served(), current: false, buildError: errorMessage(err) };
      }
    }
    this.#last.set(name, { fingerprint, outcome });
    return outcome;
  }

  /** The policy is gone: stop serving its bundle. */
  remove(name: string): void {
    this.#last.delete(name);
    this.#o.store.delete(name);
  }
}

/** What the compile depends on: the policy's spec generation and the referenced profiles' versions. */
function inputsFingerprint(policy: McpSecurityPolicy, profiles: ReadonlyMap<string, McpProfile>): string {
  const refs = (policy.spec?.profiles ?? []).map((r) => `${r.name}@${profiles.get(r.name)?.metadata?.resourceVersion ?? 'missing'}`);
  return [policy.metadata.uid ?? '', policy.metadata.generation ?? 0, policy.metadata.namespace ?? '', policy.metadata.name ?? '', ...refs].join('\n');
}

export { bundleEntrypoints, bundleInputsFor, bundleRoots } from '../../../pkg/bundle/inputs.ts';
