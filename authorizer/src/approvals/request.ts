// The ApprovalRequest a held call becomes. Pure: the same call and verdict always give the same
// name and digest, so a retried call (on any replica, after a restart) finds the request it
// created before instead of asking the humans twice. The name is the content address of the
// spec (all of it but the expiry and the bundle revision): a request found under a name is
// honoured only if its spec is what that name stands for, and a policy change that alters what
// the call requires (rule, approvers, quorum, classification, identities) yields a new name.
import type { ApprovalRequest, ApprovalRequestSpec } from '../../../api/v1alpha1/index.ts';
import { argumentsDigest } from '../../../pkg/approvals/digest.ts';
import { canonicalJson, contentHash } from '../../../pkg/json/canonical.ts';
import { createRedactor, detectors, redactText, secretDetectorNames } from '../../../pkg/redact/index.ts';
import type { ToolCall, Verdict } from '../gate/types.ts';
import { parseDuration } from '../../../pkg/duration.ts';

export { argumentsDigest };

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'toolgate-authorizer';
export const policyLabel = 'toolgate.io/policy';
export const approvalSelector = `${managedByLabel}=${managedByValue}`;
// The approvals' copy of the arguments is redacted by pkg/redact, the audit record's redactor,
// with its credential detectors only: approvers must see whom a call reaches, never a key.
const approvalRedactor = createRedactor({ detectors: secretDetectorNames, maxString: 4096 });
const secretsOnly = secretDetectorNames.map((n) => detectors[n]!);

/** Whether a string holds anything the credential detectors find (pkg/redact). */
export function looksSecret(value: string): boolean {
  return redactText(value, secretsOnly, {}) !== value;
}

/**
 * The arguments as approvers see them (pkg/redact, credential detectors): credential-looking
 * spans replaced by [REDACTED:<detector>], values under secret-named keys by
 * [REDACTED:secret-key], very long strings cut, and lone surrogates shown as U+FFFD (the API
 * server stores them so; the request must read back exactly as written to be recognised as
 * toolgate's). Iterative: any depth stays off the JS call stack.
 */
export function redactArguments(value: unknown): unknown {
  return approvalRedactor(value).value;
}

/** Who asks: the agent (azp), falling back to the token subject, which is always present. */
export function requesterOf(call: ToolCall): { agent: string; operator?: string } {
  const agent = call.caller.agent || call.caller.subject;
  return { agent, ...(call.caller.operator ? { operator: call.caller.operator } : {}) };
}

/** The spec as its name covers it: everything but when it expires and which bundle revision asked. */
function nameBasis(spec: ApprovalRequestSpec): unknown {
  const { expiresAt: _expiresAt, policyRef, ...rest } = spec;
  return { ...rest, policyRef: { namespace: policyRef.namespace, name: policyRef.name } };
}

/** `ar-` + 40 hex chars of sha256 over the canonical JSON of the spec (minus expiry and revision). */
export function approvalName(spec: ApprovalRequestSpec): string {
  return `ar-${contentHash(nameBasis(spec)).slice(0, 40)}`;
}

/** The same tool call (policy, requester, server, tool, arguments), whatever the policy required of it. */
export function sameCall(a: ApprovalRequestSpec, b: ApprovalRequestSpec): boolean {
  const key = (s: ApprovalRequestSpec) => canonicalJson([s.policyRef.namespace, s.policyRef.name, s.requester.agent, s.requester.operator ?? '', s.server, s.tool, s.argumentsDigest]);
  return key(a) === key(b);
}

/** Tolerated clock difference between the replica that created a request and one that checks it. */
export const expirySkewMs = 60_000;

/**
 * The fields in which an existing request differs from the one this authorizer would create for
 * the call now (expiry may be earlier, never later; the revision is compared by the caller).
 * Empty: the request is exactly this call's.
 */
export function specMismatches(existing: ApprovalRequestSpec, desired: ApprovalRequestSpec): string[] {
  const out: string[] = [];
  const a = nameBasis(existing) as Record<string, unknown>;
  const b = nameBasis(desired) as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const have = canonicalJson(a[k] ?? null);
    const want = canonicalJson(b[k] ?? null);
    if (have !== want) out.push(`spec.${k} is ${clip(have)}, expected ${clip(want)}`);
  }
  const late = Date.parse(existing.expiresAt) - Date.parse(desired.expiresAt);
  if (!(late <= expirySkewMs)) out.push(`spec.expiresAt ${existing.expiresAt} is later than the rule allows (${desired.expiresAt})`);
  return out;
}

function clip(json: string): string {
  return json.length > 200 ? `${json.slice(0, 199)}…` : json;
}

export class ApprovalBuildError extends Error {
  override name = 'ApprovalBuildError';
}

/** RFC 3339 without fractional seconds, rounded up so the request never expires early. */
function expiry(now: Date, timeoutMs: number): string {
  return new Date(Math.ceil((now.getTime() + timeoutMs) / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

const defaultTimeout = '60m';

/**
 * The ApprovalRequest for a held call; throws ApprovalBuildError when the verdict cannot back one.
 * `kubernetesUsernames` are the names the API server knows the requester by (none of them may decide).
 */
export function buildApprovalRequest(call: ToolCall, verdict: Verdict, now = new Date(), kubernetesUsernames: readonly string[] = []): ApprovalRequest {
  const d = verdict.decision;
  const ns = d.policy?.namespace;
  const policyName = d.policy?.name;
  if (!ns || !policyName) throw new ApprovalBuildError(`decision by rule "${d.rule}" names no policy (decision.policy.namespace/name); cannot place the ApprovalRequest`);
  if (d.approvers.length === 0) throw new ApprovalBuildError(`rule "${d.rule}" holds the call but names no approver groups`);
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(d.timeout || defaultTimeout);
  } catch (err) {
    throw new ApprovalBuildError(`rule "${d.rule}" has an unusable timeout: ${(err as Error).message}`);
  }
  const digest = argumentsDigest(call.arguments);
  const requester = requesterOf(call);
  const usernames = [...new Set(kubernetesUsernames)];
  const verb = (['get', 'list', 'create', 'update', 'delete'] as const).find((v) => v === d.verb);
  const annotations = Object.fromEntries(Object.entries(d.annotations).filter(([, v]) => typeof v === 'boolean'));
  const spec: ApprovalRequestSpec = {
    requester: { ...requester, ...(usernames.length ? { kubernetesUsernames: usernames } : {}) },
    policyRef: { namespace: ns, name: policyName, ...(verdict.revision ? { revision: verdict.revision.slice(0, 128) } : {}) },
    rule: d.rule,
    ...(d.reasons.length ? { reason: d.reasons.join('; ').slice(0, 2048) } : {}),
    server: call.server,
    tool: call.tool,
    // The CRD requires a verb; an unclassified call is shown as the most consequential one.
    verb: verb ?? 'update',
    ...(d.labels.length ? { labels: [...d.labels] } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
    arguments: redactArguments(call.arguments ?? {}) as Record<string, unknown>,
    argumentsDigest: digest,
    approvers: [...d.approvers],
    quorum: Math.max(1, d.quorum || 1),
    expiresAt: expiry(now, timeoutMs),
  };
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    // Labels are for people's selectors only: nothing toolgate decides reads them.
    metadata: { name: approvalName(spec), namespace: ns, labels: { [managedByLabel]: managedByValue, [policyLabel]: policyName } },
    spec,
  };
}
