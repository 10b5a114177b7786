// The authorizer refuses to run unguarded. Approvals are trustworthy only because the API server
// itself checks every ApprovalRequest write (config/admission: a ValidatingAdmissionPolicy and its
// binding): without them anyone who may write the status could record "approved by alice". So
// while approvals are on, the authorizer checks at start and then periodically that the policy
// and binding it depends on exist, that the binding points at that policy and denies (not only
// warns or audits), and that the policy fails closed; until then it is not ready and refuses
// every call, with the reason on /readyz, in a log line and in a metric.
//
// What this cannot see: which namespaces a binding's selectors cover (that needs the namespaces'
// labels), or whether the policy's rules were edited. It proves the guard is installed and armed.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { KubeError, isNotFound, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';

/** The name of the shipped policy and binding (config/admission). */
export const defaultAdmissionObject = 'toolgate-approvalrequests';

export interface AdmissionGuardSettings {
  /** ValidatingAdmissionPolicy name; default toolgate-approvalrequests. */
  policy?: string;
  /** ValidatingAdmissionPolicyBinding name; default toolgate-approvalrequests. */
  binding?: string;
  /** Re-check period; default 30 s. */
  intervalMs?: number;
}

export interface AdmissionGuardOptions extends AdmissionGuardSettings {
  client: KubeClient;
  log: Logger;
  registry?: Registry;
}

export interface AdmissionPolicy {
  metadata?: { name?: string; deletionTimestamp?: string };
  spec?: { failurePolicy?: string };
}

export interface AdmissionPolicyBinding {
  metadata?: { name?: string; deletionTimestamp?: string };
  spec?: { policyName?: string; validationActions?: readonly string[] };
}

export interface GuardState {
  guarded: boolean;
  /** Why (not) guarded, for /readyz and the log. */
  reason: string;
}

const admission = (plural: string, name: string): ResourceRef => ({ group: 'admissionregistration.k8s.io', version: 'v1', plural, name });
const install = 'install config/admission (or the chart) so the API server proves who approves each held call';

/** What the two objects, as read (undefined: not found), mean for the authorizer. */
export function assessAdmission(names: { policy: string; binding: string }, policy: AdmissionPolicy | undefined, binding: AdmissionPolicyBinding | undefined): GuardState {
  const problems: string[] = [];
  if (!policy) problems.push(`ValidatingAdmissionPolicy ${names.policy} does not exist`);
  else if (policy.metadata?.deletionTimestamp) problems.push(`ValidatingAdmissionPolicy ${names.policy} is being deleted`);
  else if (policy.spec?.failurePolicy === 'Ignore') problems.push(`ValidatingAdmissionPolicy ${names.policy} has failurePolicy Ignore, which lets writes through whenever it cannot be evaluated`);
  if (!binding) problems.push(`ValidatingAdmissionPolicyBinding ${names.binding} does not exist`);
  else if (binding.metadata?.deletionTimestamp) problems.push(`ValidatingAdmissionPolicyBinding ${names.binding} is being deleted`);
  else {
    if (binding.spec?.policyName !== names.policy) problems.push(`ValidatingAdmissionPolicyBinding ${names.binding} binds policy "${binding.spec?.policyName ?? ''}", not ${names.policy}`);
    const actions = binding.spec?.validationActions ?? [];
    if (!actions.includes('Deny')) problems.push(`ValidatingAdmissionPolicyBinding ${names.binding} does not deny (validationActions: [${actions.join(', ')}])`);
  }
  if (problems.length === 0) return { guarded: true, reason: `ApprovalRequests guarded by ValidatingAdmissionPolicy ${names.policy} (binding ${names.binding})` };
  return { guarded: false, reason: `ApprovalRequests are not guarded: ${problems.join('; ')}; ${install}` };
}

export class AdmissionGuard {
  readonly policy: string;
  readonly binding: string;
  readonly #o: AdmissionGuardOptions;
  readonly #interval: number;
  readonly #gauge: Gauge | undefined;
  readonly #checks: Counter<'result'> | undefined;
  #state: GuardState = { guarded: false, reason: 'the ApprovalRequest admission policy has not been checked yet' };
  /** Set once a check got an answer (found or not found); until then errors keep retrying fast. */
  #answered = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: AdmissionGuardOptions) {
    this.#o = o;
    this.policy = o.policy ?? defaultAdmissionObject;
    this.binding = o.binding ?? defaultAdmissionObject;
    this.#interval = o.intervalMs ?? 30_000;
    const registers = o.registry ? [o.registry] : [];
    if (o.registry) {
      this.#gauge = new Gauge({ name: 'toolgate_authorizer_admission_guarded', help: 'Whether the ApprovalRequest admission policy and binding the authorizer depends on are in place (1) or not (0: not ready, every call refused).', registers });
      this.#checks = new Counter({ name: 'toolgate_authorizer_admission_checks_total', help: 'Checks of the ApprovalRequest admission policy and binding, by result (guarded, unguarded, error).', labelNames: ['result'] as const, registers });
      this.#gauge.set(0);
    }
  }

  /** True while the last answered check found the policy and binding in place. */
  get guarded(): boolean {
    return this.#state.guarded;
  }

  get state(): GuardState {
    return this.#state;
  }

  /** For /readyz. */
  readiness(): { ok: boolean; detail: string } {
    return { ok: this.#state.guarded, detail: this.#state.reason };
  }

  /** Checks now, then every interval; resolves after the first check (never rejects). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.check();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One check; updates the state and returns it. */
  async check(): Promise<GuardState> {
    let next: GuardState;
    try {
      const [policy, binding] = await Promise.all([
        this.#read<AdmissionPolicy>(admission('validatingadmissionpolicies', this.policy)),
        this.#read<AdmissionPolicyBinding>(admission('validatingadmissionpolicybindings', this.binding)),
      ]);
      next = assessAdmission({ policy: this.policy, binding: this.binding }, policy, binding);
      this.#answered = true;
      this.#checks?.inc({ result: next.guarded ? 'guarded' : 'unguarded' });
    } catch (err) {
      this.#checks?.inc({ result: 'error' });
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof KubeError && (err.code === 401 || err.code === 403)) {
        // Not a passing outage: without the right to look, the guard can never be confirmed.
        this.#answered = true;
        next = { guarded: false, reason: `cannot read the ApprovalRequest admission policy (${message}): grant get on validatingadmissionpolicies/${this.policy} and validatingadmissionpolicybindings/${this.binding} (config/authorizer/authorizer_cluster_role.yaml)` };
      } else if (this.#answered) {
        // An API server hiccup does not change what was last seen; the next check asks again.
        this.#o.log.warn({ err: message, policy: this.policy, binding: this.binding }, 'could not re-check the ApprovalRequest admission policy; keeping the last result');
        return this.#state;
      } else {
        next = { guarded: false, reason: `could not check the ApprovalRequest admission policy yet: ${message}` };
      }
    }
    this.#set(next);
    return next;
  }

  #set(next: GuardState): void {
    const before = this.#state;
    this.#state = next;
    this.#gauge?.set(next.guarded ? 1 : 0);
    if (next.guarded && !before.guarded) this.#o.log.info({ policy: this.policy, binding: this.binding }, 'ApprovalRequest admission policy in place');
    else if (!next.guarded && (before.guarded || before.reason !== next.reason)) {
      this.#o.log.error({ policy: this.policy, binding: this.binding, reason: next.reason }, 'ApprovalRequest admission policy not in place: the authorizer is not ready and refuses every call');
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    // Until a check has been answered, retry sooner than the regular period.
    const delay = this.#answered ? this.#interval : Math.min(this.#interval, 2_000);
    this.#timer = setTimeout(() => void this.check().finally(() => this.#schedule()), delay);
    this.#timer.unref();
  }

  async #read<T>(ref: ResourceRef): Promise<T | undefined> {
    try {
      return await this.#o.client.get<T>(ref);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
