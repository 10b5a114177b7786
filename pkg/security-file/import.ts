// `mcp-security.yaml` (strategy document §4.4) → McpSecurityPolicy, and community packs (§4.5)
// → McpProfile. Every key is mapped or refused with its line; the result is then checked against
// the CRD schema itself, so an imported object is one the API server accepts.
import { Ajv } from 'ajv';
import type { McpProfile, McpSecurityPolicy, Policy, ProfileTool } from '../../api/v1alpha1/index.ts';
import { McpProfileSpec, McpSecurityPolicySpec, type ClassifierRule } from '../../api/v1alpha1/index.ts';
import { closedSchema } from '../../api/v1alpha1/crd.ts';
import { Located, SecurityFileError, type YamlNode } from './located.ts';
import { profileNameOf } from './profile-refs.ts';
import {
  classifierKeys, conditionKeys, hintKeys, numericConditions, packKeys, packToolKeys, patterns, policyKeys, profileRefKeys,
  securityFileKeys, supportedVersions, toolKeys, whenKeys, type HintKey,
} from './vocabulary.ts';

type Spec = McpSecurityPolicy['spec'];
type Override = NonNullable<Spec['toolOverrides']>[number];

export interface ImportOptions {
  /** metadata.name of the McpSecurityPolicy. */
  name: string;
  namespace?: string;
  /** Upstream URLs by server name (`--server gmail=http://…`); they add to the file's `servers`. */
  servers?: Record<string, string>;
}

export type FileKind = 'security-file' | 'pack';

/** A pack describes one service's tools; a security file has policies. */
export function kindOf(text: string, file = 'input'): FileKind {
  const l = new Located(file, text);
  const keys = l.entries(l.root, '').map((e) => e.key);
  return keys.includes('service') || keys.includes('tools') ? 'pack' : 'security-file';
}

export function importSecurityFile(text: string, o: ImportOptions, file = 'mcp-security.yaml'): McpSecurityPolicy {
  const l = new Located(file, text);
  l.fail();
  const spec: Partial<Spec> = {};
  const urls: Record<string, string> = {};
  const used = new Map<string, YamlNode>();
  let version: string | undefined;
  for (const e of l.entries(l.root, '', securityFileKeys)) {
    switch (e.key) {
      case 'version': {
        // YAML reads an unquoted 1.0 as a number: accept it, since the document's readers will write it so.
        const raw = e.value && 'value' in e.value ? (e.value as { value: unknown }).value : undefined;
        version = typeof raw === 'number' ? raw.toFixed(1) : l.str(e.value, e.field);
        if (version !== undefined && !(supportedVersions as readonly string[]).includes(version)) l.problem(e.field, e.value, `version ${JSON.stringify(version)} is not supported; this importer reads version ${supportedVersions.join(', ')}`);
        break;
      }
      case 'tenant': {
        const tenant: Record<string, string> = {};
        for (const t of l.entries(e.value, e.field)) {
          if (!patterns.tenantVariable.test(t.key)) l.problem(t.field, t.pair, `tenant variable names are identifiers (letters, digits, _), so {${t.key}} could never be referenced`);
          const v = l.str(t.value, t.field);
          if (v !== undefined) tenant[t.key] = v;
        }
        spec.tenant = tenant;
        break;
      }
      case 'profiles':
        spec.profiles = l.items(e.value, e.field).flatMap(({ value, field }) => {
          let ref: string | undefined;
          let server: string | undefined;
          if (value && 'items' in value) {
            for (const p of l.entries(value, field, profileRefKeys)) {
              if (p.key === 'name') ref = l.str(p.value, p.field);
              else server = l.str(p.value, p.field, { pattern: patterns.server, what: 'a server name (lower-case letters, digits, -)' });
            }
            if (ref === undefined) l.problem(`${field}.name`, value, 'a profile entry needs a name');
          } else ref = l.str(value, field);
          if (ref === undefined) return [];
          const mapped = profileNameOf(ref);
          if ('error' in mapped) {
            l.problem(field, value, mapped.error);
            return [];
          }
          // A profile applies to the server named like its service; shipped profiles are named so
          // (an own profile's service is the compiler's to check, it is not in this file).
          if (server || ref.startsWith('@')) used.set(server ?? mapped.name, value);
          return [{ name: mapped.name, ...(server ? { server } : {}) }];
        });
        break;
      case 'tool_overrides':
        spec.toolOverrides = perServerTool(l, e.value, e.field, used, (tool, node, field) => {
          const o = toolClassification(l, node, field, toolKeys);
          return [{ server: '', tool, ...o } as Override];
        });
        break;
      case 'classifiers':
        spec.classifiers = perServerTool(l, e.value, e.field, used, (tool, node, field) =>
          l.items(node, field).flatMap(({ value, field: f }) => {
            const rule = classifierRule(l, value, f);
            return rule ? [{ server: '', tool, ...rule }] : [];
          }));
        break;
      case 'policies':
        spec.policies = l.items(e.value, e.field).flatMap(({ value, field }) => {
          const p = policyRule(l, value, field);
          return p ? [p] : [];
        });
        break;
      case 'servers':
        for (const s of l.entries(e.value, e.field)) {
          if (!patterns.server.test(s.key)) l.problem(s.field, s.pair, 'server names are lower-case letters, digits and -');
          const url = l.str(s.value, s.field, { pattern: patterns.url, what: 'an http(s) URL' });
          if (url !== undefined) urls[s.key] = url;
        }
        break;
      case 'default_action': {
        const a = l.str(e.value, e.field, { pattern: /^(allow|deny|require_approval)$/, what: 'allow, deny or require_approval' });
        if (a) spec.defaultAction = a as Spec['defaultAction'];
        break;
      }
      case 'enforcement': {
        const a = l.str(e.value, e.field, { pattern: /^(enforce|dryrun)$/, what: 'enforce or dryrun' });
        if (a) spec.enforcement = a as Spec['enforcement'];
        break;
      }
    }
  }
  if (version === undefined) l.problem('version', l.root, `version is required (version: "${supportedVersions[0]}")`);
  if (spec.policies === undefined) l.problem('policies', l.root, 'policies is required: without rules every call is denied');
  for (const [name, url] of Object.entries(o.servers ?? {})) {
    if (urls[name] !== undefined && urls[name] !== url) l.problem(`servers.${name}`, l.root, `--server ${name}=${url} contradicts the file's ${urls[name]}`);
    urls[name] = url;
  }
  // The file format names servers but not where they are; a policy without the URL cannot route.
  for (const [name, node] of used) {
    if (urls[name] === undefined) l.problem(name, node, `server "${name}" has no URL: pass --server ${name}=http://… or add it under servers:`);
  }
  l.fail();
  spec.servers = Object.entries(urls).map(([name, url]) => ({ name, url }));
  const policy: McpSecurityPolicy = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpSecurityPolicy',
    metadata: { name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) },
    spec: spec as Spec,
  };
  checkSchema(file, validatePolicySpec, policy.spec);
  return policy;
}

export interface PackOptions {
  /** metadata.name; default: from the header (`# @openclaw/security-gmail v1.0.0`), else the service. */
  name?: string;
}

const header = /^\s*(@[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*)\s+(v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?)\s*$/;

export function importPack(text: string, o: PackOptions = {}, file = 'pack.yaml'): McpProfile {
  const l = new Located(file, text);
  l.fail();
  // §4.5 names and versions a pack in its first comment: `# @openclaw/security-gmail v1.0.0`.
  // Read from the text itself: YAML attaches a comment to whichever node follows it.
  const first = /^\s*#(.*)/.exec(text.split('\n').find((line) => line.trim() !== '') ?? '')?.[1] ?? '';
  const h = header.exec(first);
  let name = o.name;
  let version = h?.[2];
  if (h && name === undefined) {
    const mapped = profileNameOf(h[1]!);
    if ('error' in mapped) l.problem('(header comment)', l.root, mapped.error);
    else name = mapped.name;
  }
  const spec: Partial<McpProfile['spec']> = {};
  for (const e of l.entries(l.root, '', packKeys)) {
    switch (e.key) {
      case 'service': spec.service = l.str(e.value, e.field, { pattern: patterns.server, what: 'a service name (lower-case letters, digits, -)' }); break;
      case 'description': spec.description = l.str(e.value, e.field); break;
      case 'upstream': spec.upstream = l.str(e.value, e.field); break;
      case 'version': {
        const v = l.str(e.value, e.field, { pattern: patterns.semver, what: 'a semantic version (1.0.0)' });
        if (v !== undefined && version !== undefined && v !== version) l.problem(e.field, e.value, `version ${v} contradicts the header comment's ${version}`);
        version = v ?? version;
        break;
      }
      case 'tools':
        spec.tools = l.entries(e.value, e.field).map((t) => ({ name: t.key, ...toolClassification(l, t.value, t.field, packToolKeys) }) as ProfileTool);
        break;
    }
  }
  if (spec.service === undefined && !l.problems.some((p) => p.field === 'service')) l.problem('service', l.root, 'service is required: the MCP server the pack describes');
  if (spec.tools === undefined) l.problem('tools', l.root, 'tools is required');
  if (version === undefined) l.problem('version', l.root, 'the pack has no version: start it with `# @openclaw/security-<name> v1.0.0` (§4.5) or add version: 1.0.0');
  l.fail();
  spec.version = version!;
  const profile: McpProfile = {
    apiVersion: 'toolgate.io/v1alpha1', kind: 'McpProfile',
    metadata: { name: name ?? spec.service! },
    spec: spec as McpProfile['spec'],
  };
  checkSchema(file, validateProfileSpec, profile.spec);
  return profile;
}

/** `server: { tool: X }` maps, the shape of tool_overrides and classifiers. */
function perServerTool<T extends { server: string }>(l: Located, node: YamlNode, field: string, used: Map<string, YamlNode>, each: (tool: string, node: YamlNode, field: string) => T[]): T[] {
  const out: T[] = [];
  for (const s of l.entries(node, field)) {
    if (!patterns.server.test(s.key)) l.problem(s.field, s.pair, 'server names are lower-case letters, digits and - (as in spec.servers)');
    if (!used.has(s.key)) used.set(s.key, s.pair.key as YamlNode);
    for (const t of l.entries(s.value, s.field)) for (const x of each(t.key, t.value, t.field)) out.push({ ...x, server: s.key });
  }
  return out;
}

function toolClassification(l: Located, node: YamlNode, field: string, allowed: readonly string[]): Partial<ProfileTool> {
  const out: Partial<ProfileTool> = {};
  for (const e of l.entries(node, field, allowed)) {
    if ((hintKeys as readonly string[]).includes(e.key)) {
      const b = l.bool(e.value, e.field);
      if (b !== undefined) out[e.key as HintKey] = b;
    } else if (e.key === 'verb') {
      const v = l.str(e.value, e.field, { pattern: patterns.verb, what: 'a verb (get, list, create, update, delete)' });
      if (v) out.verb = v as ProfileTool['verb'];
    } else if (e.key === 'labels') {
      const v = l.strList(e.value, e.field, { pattern: patterns.label, what: 'a namespaced label (scope:external)' });
      if (v) out.labels = v;
    } else if (e.key === 'scopes') {
      const v = l.strList(e.value, e.field);
      if (v) out.scopes = v;
    } else if (e.key === 'classify') {
      out.classify = l.items(e.value, e.field).flatMap(({ value, field: f }) => {
        const r = classifierRule(l, value, f);
        return r ? [r] : [];
      });
    }
  }
  return out;
}

function classifierRule(l: Located, node: YamlNode, field: string): ClassifierRule | undefined {
  const rule: Record<string, unknown> = {};
  const conditions: string[] = [];
  let ok = true;
  for (const e of l.entries(node, field, classifierKeys)) {
    let v: unknown;
    if (e.key === 'field') v = l.str(e.value, e.field, { pattern: patterns.field, what: 'an argument path (to, items[*].amount)' });
    else if (e.key === 'set_labels') v = l.strList(e.value, e.field, { pattern: patterns.label, what: 'a namespaced label (scope:external)' });
    else {
      const key = conditionKeys[e.key]!;
      conditions.push(e.key);
      v = key === 'present' ? l.bool(e.value, e.field)
        : numericConditions.includes(key) ? l.num(e.value, e.field, key.startsWith('length') ? { integer: true, min: 0 } : {})
          : l.str(e.value, e.field, { nonEmpty: false });
      if (v !== undefined) rule[key] = v;
      continue;
    }
    if (v === undefined) ok = false;
    else rule[e.key === 'set_labels' ? 'setLabels' : e.key] = v;
  }
  if (rule.field === undefined && ok) {
    l.problem(`${field}.field`, node, 'a classifier needs a field (the argument it looks at)');
    ok = false;
  }
  if (rule.setLabels === undefined && ok) {
    l.problem(`${field}.set_labels`, node, 'a classifier needs set_labels (what it adds when its condition holds)');
    ok = false;
  }
  if (conditions.length !== 1) {
    l.problem(field, node, `a classifier has exactly one condition (${Object.keys(conditionKeys).join(', ')}); this one has ${conditions.length ? conditions.join(', ') : 'none'}`);
    ok = false;
  }
  return ok ? (rule as unknown as ClassifierRule) : undefined;
}

function policyRule(l: Located, node: YamlNode, field: string): Policy | undefined {
  const p: Record<string, unknown> = {};
  for (const e of l.entries(node, field, policyKeys)) {
    let v: unknown;
    switch (e.key) {
      case 'name': case 'description': v = l.str(e.value, e.field); break;
      case 'match': v = l.str(e.value, e.field, { pattern: /^(all|any)$/, what: 'all or any' }); break;
      case 'action': v = l.str(e.value, e.field, { pattern: /^(allow|deny|require_approval)$/, what: 'allow, deny or require_approval' }); break;
      case 'approvers': v = l.strList(e.value, e.field); break;
      case 'quorum': v = l.num(e.value, e.field, { integer: true, min: 1, max: 10 }); break;
      case 'priority': v = l.num(e.value, e.field, { integer: true, min: 0, max: 100000 }); break;
      case 'timeout': v = l.str(e.value, e.field, { pattern: patterns.duration, what: 'a duration (30s, 60m, 24h, 1h30m)' }); break;
      case 'when': v = policyWhen(l, e.value, e.field); break;
    }
    if (v !== undefined) p[e.key] = v;
  }
  for (const required of ['name', 'when', 'action', 'priority']) {
    if (!Object.hasOwn(p, required) && !l.problems.some((x) => x.field === `${field}.${required}`)) l.problem(`${field}.${required}`, node, `${required} is required`);
  }
  if (p.action === 'require_approval' && p.approvers === undefined) l.problem(`${field}.approvers`, node, 'require_approval needs approvers (the groups whose members decide)');
  if (p.action !== undefined && p.action !== 'require_approval') {
    for (const k of ['approvers', 'quorum', 'timeout']) if (p[k] !== undefined) l.problem(`${field}.${k}`, node, `${k} applies only to action: require_approval`);
  }
  return p.name && p.when && p.action && p.priority !== undefined ? (p as unknown as Policy) : undefined;
}

function policyWhen(l: Located, node: YamlNode, field: string): Policy['when'] | undefined {
  const w: Record<string, unknown> = {};
  for (const e of l.entries(node, field, whenKeys)) {
    if ((hintKeys as readonly string[]).includes(e.key)) {
      const b = l.bool(e.value, e.field);
      if (b !== undefined) w[e.key] = b;
    } else if (e.key === 'verb') {
      const v = l.str(e.value, e.field, { pattern: patterns.verb, what: 'a verb (get, list, create, update, delete)' });
      if (v) w.verbs = [...((w.verbs as string[] | undefined) ?? []), v];
    } else if (e.key === 'verbs') {
      const v = l.strList(e.value, e.field, { pattern: patterns.verb, what: 'a verb (get, list, create, update, delete)' });
      if (v) w.verbs = [...((w.verbs as string[] | undefined) ?? []), ...v];
    } else {
      const v = l.strList(e.value, e.field, e.key === 'labels' ? { pattern: patterns.label, what: 'a namespaced label (scope:external)' } : {});
      if (v) w[e.key] = v;
    }
  }
  if (Array.isArray(w.verbs) && new Set(w.verbs).size !== w.verbs.length) l.problem(`${field}.verbs`, node, 'verb and verbs name the same verb twice');
  return w as Policy['when'];
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const validatePolicySpec = ajv.compile(closedSchema(JSON.parse(JSON.stringify(McpSecurityPolicySpec))) as object);
const validateProfileSpec = ajv.compile(closedSchema(JSON.parse(JSON.stringify(McpProfileSpec))) as object);

/** The last word: what the CRD's schema refuses, the API server would refuse too. */
function checkSchema(file: string, validate: typeof validatePolicySpec, spec: unknown): void {
  if (validate(spec)) return;
  throw new SecurityFileError(file, (validate.errors ?? []).map((e) => ({ field: `spec${e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`, line: 0, message: e.message ?? 'invalid' })));
}
