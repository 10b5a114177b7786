// Builds each governed server's tool table: profiles (in list order), then operator overrides,
// merged per field, plus the argument classifiers of both profiles and the policy. What a
// server reports at runtime and the name patterns are layered on top by the Rego.
import {
  classifierConditionKeys, type ClassifierRule, type McpProfile, type McpSecurityPolicySpec, type Problem,
} from '../../../api/v1alpha1/index.ts';
import { interpolate } from './tenant.ts';
import { parseFieldPath, re2Problem } from './syntax.ts';
import { profileTarget } from './validate.ts';
import { hintNames, type ClassifierOp, type CompiledClassifier, type Hints } from './types.ts';

export interface ToolAccumulator {
  classified: boolean;
  annotations: Hints;
  verb?: string;
  labels: Set<string>;
  scopes?: string[];
  classifiers: CompiledClassifier[];
  sources: string[];
}

/** server name → tool name → accumulated classification. */
export type ToolTable = Map<string, Map<string, ToolAccumulator>>;

/** Where a classifier sits, for problem reports: the status field and, for profiles, the path inside the profile. */
interface Location {
  field: string;
  inside?: string;
}

interface Classification {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  secretHint?: boolean;
  verb?: string;
  labels?: string[];
  scopes?: string[];
}

export function buildToolTable(
  spec: McpSecurityPolicySpec,
  profiles: ReadonlyMap<string, McpProfile>,
  problems: Problem[],
): ToolTable {
  const tenant = spec.tenant ?? {};
  const servers = new Set((spec.servers ?? []).map((s) => s.name));
  const table: ToolTable = new Map([...servers].map((s) => [s, new Map()]));
  const entry = (server: string, tool: string): ToolAccumulator => {
    const tools = table.get(server)!;
    let acc = tools.get(tool);
    if (!acc) {
      acc = { classified: false, annotations: {}, labels: new Set(), classifiers: [], sources: [] };
      tools.set(tool, acc);
    }
    return acc;
  };

  (spec.profiles ?? []).forEach((ref, i) => {
    const profile = profiles.get(ref.name);
    const target = profileTarget(ref, profile);
    // Missing profiles and unknown servers are reported by checkReferences.
    if (!profile || target === undefined || !servers.has(target)) return;
    (profile.spec.tools ?? []).forEach((t, ti) => {
      const acc = entry(target, t.name);
      classify(acc, t, `profile:${ref.name}`);
      (t.classify ?? []).forEach((rule, ci) => {
        const c = compileClassifier(rule, tenant, `profile ${ref.name} tool ${t.name} classify[${ci}]`, {
          field: `spec.profiles[${i}]`,
          inside: `McpProfile "${ref.name}" spec.tools[${ti}].classify[${ci}]`,
        }, problems);
        if (c) acc.classifiers.push(c);
      });
    });
  });

  (spec.toolOverrides ?? []).forEach((o) => {
    if (servers.has(o.server)) classify(entry(o.server, o.tool), o, 'override');
  });

  (spec.classifiers ?? []).forEach((rule, i) => {
    if (!servers.has(rule.server)) return;
    const c = compileClassifier(rule, tenant, `spec.classifiers[${i}]`, { field: `spec.classifiers[${i}]` }, problems);
    if (c) entry(rule.server, rule.tool).classifiers.push(c);
  });
  return table;
}

function classify(acc: ToolAccumulator, c: Classification, source: string): void {
  acc.classified = true;
  for (const h of hintNames) {
    if (typeof c[h] === 'boolean') acc.annotations[h] = c[h];
  }
  if (c.verb !== undefined) acc.verb = c.verb;
  for (const l of c.labels ?? []) acc.labels.add(l);
  if (c.scopes !== undefined) acc.scopes = [...c.scopes];
  if (!acc.sources.includes(source)) acc.sources.push(source);
}

const stringOps = new Set<ClassifierOp>(['contains', 'notContains', 'matches', 'notMatches', 'equals']);
const regexOps = new Set<ClassifierOp>(['matches', 'notMatches']);

/** Compiles one classifier, or reports why it cannot be and returns undefined. */
export function compileClassifier(
  rule: ClassifierRule,
  tenant: Readonly<Record<string, string>>,
  source: string,
  at: Location,
  problems: Problem[],
): CompiledClassifier | undefined {
  const report = (sub: string, message: string) => {
    if (at.inside) problems.push({ field: at.field, message: `${at.inside}${sub}: ${message}` });
    else problems.push({ field: `${at.field}${sub}`, message });
  };
  const set = classifierConditionKeys.filter((k) => rule[k] !== undefined);
  if (set.length !== 1) {
    report('', `exactly one condition must be set (one of ${classifierConditionKeys.join(', ')}); found ${set.length ? set.join(', ') : 'none'}`);
    return undefined;
  }
  const op = set[0]!;
  const path = parseFieldPath(rule.field);
  if (typeof path === 'string') {
    report('.field', `"${rule.field}" ${path}`);
    return undefined;
  }
  let value = rule[op]!;
  if (stringOps.has(op)) {
    const { value: text, missing } = interpolate(String(value), tenant, regexOps.has(op));
    if (missing.length > 0) {
      report(`.${op}`, `tenant variable ${missing.map((m) => `{${m}}`).join(', ')} is not defined in spec.tenant`);
      return undefined;
    }
    if (regexOps.has(op)) {
      const why = re2Problem(text);
      if (why) {
        report(`.${op}`, why);
        return undefined;
      }
    }
    value = text;
  }
  return { path, op, value, labels: [...new Set(rule.setLabels)].sort(), source };
}
