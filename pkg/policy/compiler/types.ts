// The compiled data document: what the Rego program in pkg/policy/rego reads at
// data.toolgate.compiled. CONTRACT.md beside the Rego describes it field by field; a change
// here that the Rego does not understand must bump schemaVersion.
import type { Action, OperationKind, Problem } from '../../../api/v1alpha1/index.ts';
import type { GatewayConfig } from '../../contracts/gateway.ts';
import type { CompiledToolPinning } from './tool-pinning.ts';
import type { CompiledAudit } from './audit.ts';

export const schemaVersion = 1;

/** Where the document sits in OPA's data tree (bundle roots and data.json nest it there). */
export const dataRoot = ['toolgate', 'compiled'] as const;

export const hintNames = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint', 'secretHint'] as const;
export type HintName = (typeof hintNames)[number];
export type Hints = Partial<Record<HintName, boolean>>;

/** Path segments into the arguments: a key, an array index, or "*" for every element. */
export type PathSegment = string | number;

export type ClassifierOp =
  | 'contains' | 'notContains' | 'matches' | 'notMatches' | 'equals' | 'present'
  | 'greaterThan' | 'lessThan' | 'lengthGreaterThan' | 'lengthLessThan';

export interface CompiledClassifier {
  path: PathSegment[];
  op: ClassifierOp;
  value: string | number | boolean;
  labels: string[];
  /** Where the classifier came from, quoted in decision reasons. */
  source: string;
}

export interface CompiledTool {
  /** A profile or override classifies the tool, so the name-pattern fallback does not apply. */
  classified: boolean;
  annotations: Hints;
  verb?: string;
  labels: string[];
  scopes: string[];
  classifiers: CompiledClassifier[];
  sources: string[];
  /** Index into candidateLists. */
  candidates: number;
}

export interface CompiledServer {
  /** Candidate list for tools the compiler has no entry for. */
  wildcard: number;
  tools: Record<string, CompiledTool>;
  /** spec.resourceOverrides of the server, in order; absent when there are none. */
  resources?: CompiledTargetClass[];
  /** spec.promptOverrides of the server, in order; absent when there are none. */
  prompts?: CompiledTargetClass[];
}

/** Labels and a verb for the resources or prompts a matcher selects. */
export interface CompiledTargetClass {
  match: NameMatcher;
  verb?: string;
  labels: string[];
}

export interface CompiledPattern {
  name: string;
  /** Lower-case words of tool names that select this row. */
  words: string[];
  annotations: Hints;
  verb: string;
  labels: string[];
}

/**
 * A set of tool-name globs, split by shape so the Rego can use string builtins for the common
 * ones: in the wasm, glob.match compiles its pattern on every call and costs microseconds,
 * startswith a few nanoseconds. A name matches when any list matches it; `glob` holds the rest,
 * evaluated by glob.match with no delimiters.
 */
export interface NameMatcher {
  exact?: string[];
  prefix?: string[];
  suffix?: string[];
  contains?: string[];
  glob?: string[];
}

/**
 * A rule's conditions, flattened: hint names map to the required value; `labels` becomes
 * labelsAll or labelsAny by the rule's match mode so the Rego needs no second lookup.
 */
export interface CompiledWhen extends Hints {
  verbs?: string[];
  labelsAll?: string[];
  labelsAny?: string[];
  servers?: string[];
  tools?: NameMatcher;
  /** Resource URIs (kind resource only). */
  resources?: NameMatcher;
  /** Prompt names (kind prompt only). */
  prompts?: NameMatcher;
  roles?: string[];
}

export interface CompiledRule {
  name: string;
  priority: number;
  action: Action;
  match: 'all' | 'any';
  /** The operation kinds the rule governs (sorted), required whatever `match` says. */
  kinds: OperationKind[];
  when: CompiledWhen;
  approvers: string[];
  quorum: number;
  timeout: string;
}

export interface CompiledDocument {
  schemaVersion: number;
  policy: { namespace: string; name: string };
  enforcement: 'enforce' | 'dryrun';
  defaultAction: Action;
  patterns: CompiledPattern[];
  /** word → index into patterns (the most dangerous row that lists the word). */
  patternWords: Record<string, number>;
  servers: Record<string, CompiledServer>;
  policies: CompiledRule[];
  candidateLists: number[][];
  /**
   * grants: every restricted role → matcher over `server/tool` (empty when it lists no tools);
   * resourceGrants / promptGrants: role → matcher over `server/uri` / `server/prompt`, for the
   * roles that list them.
   */
  roles: { grants: Record<string, NameMatcher>; resourceGrants: Record<string, NameMatcher>; promptGrants: Record<string, NameMatcher>; unrestricted: string[] };
  /** spec.toolPinning: the answer for a call to a tool whose definition changed (input.toolChange). */
  toolPinning?: CompiledToolPinning;
  /** spec.session (velocity limits, flow rules); absent when the policy has none. */
  session?: CompiledSession;
  /** spec.audit.requirePurposeFor (audit.ts); absent when no call must state a purpose. */
  audit?: CompiledAudit;
}

/** A velocity limit: a compiled rule (its `when` is matched like a rule's) plus what to count. */
export interface CompiledLimit extends CompiledRule {
  per: 'session' | 'caller';
  perTool: boolean;
  max: number;
  /** Applies to the first matching call in the window only (max 0, require_approval). */
  firstUse?: true;
  /** As written (quoted in reasons). */
  window: string;
  windowMs: number;
}

/** A flow rule: a compiled rule over the sink (`when`) and the source labels it acts on. */
export interface CompiledFlow extends CompiledRule {
  from: string[];
}

export interface CompiledSession {
  limits: CompiledLimit[];
  flows: CompiledFlow[];
  /** Every flow's `from` labels: the labels a let-through call taints its session with. */
  sources: string[];
  taintTtlMs: number;
}

/** The whole OPA data document (data.json of a bundle, or opa-wasm's setData argument). */
export interface CompiledData {
  /** `gateway` is for the authorizer (servers, identity); the Rego reads only `compiled`. */
  toolgate: { compiled: CompiledDocument; gateway: GatewayConfig };
}

export interface CompileCounts {
  servers: number;
  tools: number;
  policies: number;
  classifiers: number;
}

export interface CompileResult {
  /** Present only when there are no problems: a policy with problems must never be shipped. */
  data?: CompiledData;
  problems: Problem[];
  counts: CompileCounts;
}

export type { Problem };
