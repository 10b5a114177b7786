// compilePolicy: one McpSecurityPolicy plus the McpProfiles it references → the data document
// the fixed Rego program evaluates. Deterministic: maps are walked in sorted order and lists
// that are sets are sorted, so equal inputs give byte-identical canonical JSON.
import type { McpProfile, McpSecurityPolicy, Policy, Problem } from '../../../api/v1alpha1/index.ts';
import { ruleKinds } from './kinds.ts';
import { CandidateIndex, knownToolView, ListInterner, wildcardView } from './candidates.ts';
import { compareCodeUnits } from '../../json/canonical.ts';
import { defaultPatterns, patternWordIndex } from './patterns.ts';
import type { GatewayConfig } from '../../contracts/gateway.ts';
import { buildToolTable, type ToolTable } from './tools.ts';
import { compileGlobs } from './syntax.ts';
import { checkReferences } from './validate.ts';
import { compileToolPinning, toolPinningProblems } from './tool-pinning.ts';
import { compileSession } from './session.ts';
import { compileAudit, compilePersonalFields } from './audit.ts';
import {
  hintNames, schemaVersion,
  type CompileCounts, type CompiledDocument, type CompiledPattern, type CompiledRule, type CompiledServer,
  type CompiledTool, type CompiledWhen, type CompileResult, type NameMatcher,
} from './types.ts';

/** Applied to require_approval rules that leave them out. */
export const defaultQuorum = 1;
export const defaultApprovalTimeout = '60m';

const sortedUnique = (xs: readonly string[] | undefined): string[] => [...new Set(xs ?? [])].sort(compareCodeUnits);

export function compilePolicy(policy: McpSecurityPolicy, profiles: ReadonlyMap<string, McpProfile>): CompileResult {
  const spec = policy.spec;
  const problems: Problem[] = checkReferences(policy, profiles);
  problems.push(...toolPinningProblems(spec));
  const table = buildToolTable(spec, profiles, problems);
  const rules = compileRules(spec.policies ?? []);
  const patterns = defaultPatterns();
  const { servers, candidateLists } = compileServers(table, rules, patterns);
  addTargetClasses(servers, spec);
  const session = compileSession(spec, problems);

  const counts: CompileCounts = {
    servers: table.size,
    tools: Object.values(servers).reduce((n, s) => n + Object.keys(s.tools).length, 0),
    policies: rules.length,
    classifiers: Object.values(servers).reduce((n, s) => n + Object.values(s.tools).reduce((m, t) => m + t.classifiers.length, 0), 0),
  };
  if (problems.length > 0) return { problems, counts };

  const roles = spec.identity?.roles ?? [];
  // A role listing any kind is restricted: it grants what it lists, per kind (nothing of a kind it omits).
  const grants = Object.create(null) as Record<string, NameMatcher>;
  const resourceGrants = Object.create(null) as Record<string, NameMatcher>;
  const promptGrants = Object.create(null) as Record<string, NameMatcher>;
  const restricted = (r: (typeof roles)[number]) => r.tools !== undefined || r.resources !== undefined || r.prompts !== undefined;
  for (const r of [...roles].sort((a, b) => compareCodeUnits(a.name, b.name))) {
    if (!restricted(r)) continue;
    grants[r.name] = compileGlobs(r.tools ?? []);
    if (r.resources !== undefined) resourceGrants[r.name] = compileGlobs(r.resources);
    if (r.prompts !== undefined) promptGrants[r.name] = compileGlobs(r.prompts);
  }
  const document: CompiledDocument = {
    schemaVersion,
    policy: { namespace: policy.metadata?.namespace ?? '', name: policy.metadata?.name ?? '' },
    enforcement: spec.enforcement ?? 'enforce',
    defaultAction: spec.defaultAction ?? 'deny',
    patterns,
    patternWords: patternWordIndex(patterns),
    servers,
    policies: rules,
    candidateLists,
    roles: { grants, resourceGrants, promptGrants, unrestricted: sortedUnique(roles.filter((r) => !restricted(r)).map((r) => r.name)) },
    ...(session ? { session } : {}),
  };
  const toolPinning = compileToolPinning(spec);
  if (toolPinning) document.toolPinning = toolPinning;
  const audit = compileAudit(spec);
  if (audit) document.audit = audit;
  const gateway = gatewayConfig(document.policy, spec);
  const personalFields = compilePersonalFields(spec, profiles);
  if (personalFields) gateway.personalFields = personalFields;
  return { data: { toolgate: { compiled: document, gateway } }, problems, counts };
}

/** Rules in evaluation order: ascending priority, ties by name (validation rejects ties with different actions). */
export function compileRules(policies: readonly Policy[]): CompiledRule[] {
  return [...policies]
    .sort((a, b) => a.priority - b.priority || compareCodeUnits(a.name, b.name))
    .map((p) => {
      const match = p.match ?? 'all';
      const when: CompiledWhen = {};
      for (const h of hintNames) {
        if (typeof p.when?.[h] === 'boolean') when[h] = p.when[h];
      }
      const lists = {
        verbs: p.when?.verbs,
        [match === 'all' ? 'labelsAll' : 'labelsAny']: p.when?.labels,
        servers: p.when?.servers,
        roles: p.when?.roles,
      } as Record<'verbs' | 'labelsAll' | 'labelsAny' | 'servers' | 'roles', string[] | undefined>;
      for (const [k, v] of Object.entries(lists) as Array<[keyof typeof lists, string[] | undefined]>) {
        // An empty list states no condition; keeping it would make `match: any` rules depend on
        // whether the author wrote `labels: []` or left it out.
        if (v && v.length > 0) when[k] = sortedUnique(v);
      }
      if (p.when?.tools && p.when.tools.length > 0) when.tools = compileGlobs(p.when.tools);
      if (p.when?.resources && p.when.resources.length > 0) when.resources = compileGlobs(p.when.resources);
      if (p.when?.prompts && p.when.prompts.length > 0) when.prompts = compileGlobs(p.when.prompts);
      const approval = p.action === 'require_approval';
      return {
        name: p.name,
        priority: p.priority,
        action: p.action,
        match,
        kinds: ruleKinds(p),
        when,
        approvers: approval ? sortedUnique(p.approvers) : [],
        quorum: approval ? (p.quorum ?? defaultQuorum) : 0,
        timeout: approval ? (p.timeout ?? defaultApprovalTimeout) : '',
      };
    });
}

function addTargetClasses(servers: Record<string, CompiledServer>, spec: McpSecurityPolicy['spec']): void {
  const add = (server: string, key: 'resources' | 'prompts', glob: string, verb: string | undefined, labels: readonly string[] | undefined) => {
    const s = servers[server];
    if (!s) return;
    (s[key] ??= []).push({ match: compileGlobs([glob]), ...(verb !== undefined ? { verb } : {}), labels: sortedUnique(labels) });
  };
  for (const o of spec.resourceOverrides ?? []) add(o.server, 'resources', o.uri, o.verb, o.labels);
  for (const o of spec.promptOverrides ?? []) add(o.server, 'prompts', o.prompt, o.verb, o.labels);
}

function compileServers(table: ToolTable, rules: readonly CompiledRule[], patterns: readonly CompiledPattern[]) {
  const interner = new ListInterner();
  const index = new CandidateIndex(rules);
  const servers: Record<string, CompiledServer> = {};
  for (const server of [...table.keys()].sort(compareCodeUnits)) {
    const tools: Record<string, CompiledTool> = Object.create(null) as Record<string, CompiledTool>;
    const accs = table.get(server)!;
    for (const name of [...accs.keys()].sort(compareCodeUnits)) {
      const acc = accs.get(name)!;
      const tool: CompiledTool = {
        classified: acc.classified,
        annotations: { ...acc.annotations },
        labels: sortedUnique([...acc.labels]),
        scopes: sortedUnique(acc.scopes),
        classifiers: acc.classifiers,
        sources: acc.sources,
        candidates: interner.intern(index.candidates(knownToolView(server, name, acc, patterns))),
      };
      if (acc.verb !== undefined) tool.verb = acc.verb;
      tools[name] = tool;
    }
    servers[server] = { wildcard: interner.intern(index.candidates(wildcardView(server, patterns))), tools };
  }
  return { servers, candidateLists: interner.lists };
}

/**
 * The authorizer's part of the data: servers and identity as declared, with list-maps sorted by
 * key and sets sorted, so reordering the YAML does not change the revision.
 */
export function gatewayConfig(policy: GatewayConfig['policy'], spec: McpSecurityPolicy['spec']): GatewayConfig {
  const byName = <T extends { name: string }>(xs: readonly T[]) => [...xs].sort((a, b) => compareCodeUnits(a.name, b.name));
  const setsSorted = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) && v.every((x) => typeof x === 'string') ? sortedUnique(v) : v])) as T;
  const identity = spec.identity && setsSorted({ ...spec.identity, ...(spec.identity.roles ? { roles: byName(spec.identity.roles).map(setsSorted) } : {}) });
  return { policy, servers: byName(spec.servers), ...(identity ? { identity } : {}), ...(spec.audit ? { audit: spec.audit } : {}), ...(spec.toolPinning ? { toolPinning: spec.toolPinning } : {}) };
}
