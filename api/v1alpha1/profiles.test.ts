// The community profiles in profiles/: each file is a valid McpProfile (schema, the CRD's CEL
// rule, RE2-compatible regular expressions), complete (hints and a verb on every tool), listed
// in the kustomization, documented in profiles/README.md, accepted by the policy compiler,
// and its classifiers label the calls their comments promise.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compilePolicy, type CompiledClassifier, type CompiledTool } from '../../pkg/policy/compiler/index.ts';
import { classifierConditionKeys, McpProfileSpec, verbs, type McpProfile, type McpSecurityPolicy } from './index.ts';

const profilesDir = fileURLToPath(new URL('../../profiles/', import.meta.url));
const readme = readFileSync(join(profilesDir, 'README.md'), 'utf8');

/** Tenant variables the profiles may use; README.md documents each. */
const tenant: Record<string, string> = { company_domain: 'acme.com', github_org: 'acme-corp' };
const tenantVariable = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const hintKeys = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint', 'secretHint'] as const;
const regexKeys = ['matches', 'notMatches'] as const;

interface Loaded {
  file: string;
  profile: McpProfile;
}

function load(): Loaded[] {
  return readdirSync(profilesDir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .map((file) => {
      const docs = parseAllDocuments(readFileSync(join(profilesDir, file), 'utf8'));
      if (!Array.isArray(docs) || docs.length !== 1) throw new Error(`${file}: expected exactly one YAML document`);
      const doc = docs[0]!;
      const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
      if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
      return { file, profile: doc.toJS() as McpProfile };
    });
}

const profiles = load();

/**
 * The API server prunes fields its schema does not know, so a misspelt `destructivehint`
 * would vanish silently. Closing every object of the schema turns such typos into errors.
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = closed(v);
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}
const validateSpec = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(closed(JSON.parse(JSON.stringify(McpProfileSpec))) as object);

/** Constructs JavaScript accepts but RE2 (OPA's regex.match) rejects. */
const notRe2: Array<[RegExp, string]> = [
  [/\(\?<?[=!]/, 'lookaround'],
  [/\(\?>/, 'atomic group'],
  [/\\[1-9]|\\k</, 'backreference'],
  [/[*+?}]\+/, 'possessive quantifier'],
  [/\(\?[a-zA-Z]+\)/, 'flag group without a body: JavaScript only has the scoped (?i:...) form'],
];

function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function toolsOf(p: McpProfile) {
  return p.spec.tools;
}

function allLabels(p: McpProfile): string[] {
  return toolsOf(p).flatMap((t) => [...(t.labels ?? []), ...(t.classify ?? []).flatMap((c) => c.setLabels)]);
}

function policyFor(profile: McpProfile, vars: Record<string, string>): McpSecurityPolicy {
  return {
    apiVersion: 'toolgate.io/v1alpha1',
    kind: 'McpSecurityPolicy',
    metadata: { namespace: 'test', name: 'profiles' },
    spec: {
      tenant: vars,
      servers: [{ name: profile.spec.service, url: `http://${profile.spec.service}.invalid/mcp` }],
      profiles: [{ name: profile.metadata.name! }],
      policies: [],
    },
  } as McpSecurityPolicy;
}

describe('profiles/', () => {
  it('holds the profiles the issue asks for', () => {
    expect(profiles.map((l) => l.profile.metadata.name).sort()).toEqual(
      expect.arrayContaining(['business-automation', 'everything', 'filesystem', 'github', 'gmail', 'kubernetes', 'postgres', 'slack', 'stripe']),
    );
  });

  it('kustomization.yaml lists exactly the profile files', () => {
    const [kust] = parseAllDocuments(readFileSync(join(profilesDir, 'kustomization.yaml'), 'utf8')) as unknown as Array<{ toJS(): { resources: string[] } }>;
    expect([...kust!.toJS().resources].sort()).toEqual(profiles.map((l) => l.file));
  });

  describe.each(profiles.map((l) => [l.file, l] as const))('%s', (file, { profile }) => {
    it('is an McpProfile named after its file and its service', () => {
      expect(profile.apiVersion).toBe('toolgate.io/v1alpha1');
      expect(profile.kind).toBe('McpProfile');
      expect(profile.metadata.name).toBe(basename(file, '.yaml'));
      expect(profile.spec.service).toBe(profile.metadata.name);
      expect(profile.metadata.labels?.['toolgate.io/profile-source']).toBe('community');
      expect(Object.keys(profile)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    });

    it('validates against the McpProfile schema, unknown fields included', () => {
      const ok = validateSpec(profile.spec);
      expect(validateSpec.errors ?? [], JSON.stringify(validateSpec.errors, null, 2)).toEqual([]);
      expect(ok).toBe(true);
    });

    it('sets exactly one condition in every classifier (the CRD\'s CEL rule)', () => {
      const bad = toolsOf(profile).flatMap((t) =>
        (t.classify ?? []).flatMap((c, i) => {
          const set = classifierConditionKeys.filter((k) => c[k] !== undefined);
          return set.length === 1 ? [] : [`${t.name}.classify[${i}]: ${set.join(',') || 'none'}`];
        }),
      );
      expect(bad).toEqual([]);
    });

    it('names each tool once', () => {
      const names = toolsOf(profile).map((t) => t.name);
      expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    });

    it('gives every tool a verb and all five hints, consistently', () => {
      const bad: string[] = [];
      for (const t of toolsOf(profile)) {
        if (!t.verb || !verbs.includes(t.verb)) bad.push(`${t.name}: verb ${String(t.verb)}`);
        for (const h of hintKeys) if (typeof t[h] !== 'boolean') bad.push(`${t.name}: ${h} not set`);
        // A read-only tool that destroys or writes is a contradiction the policy cannot resolve.
        if (t.readOnlyHint && (t.destructiveHint || (t.verb !== 'get' && t.verb !== 'list'))) bad.push(`${t.name}: readOnlyHint with ${t.verb}/destructive`);
      }
      expect(bad).toEqual([]);
    });

    it('uses only RE2-compatible regular expressions that compile', () => {
      const bad: string[] = [];
      for (const t of toolsOf(profile)) {
        (t.classify ?? []).forEach((c, i) => {
          for (const k of regexKeys) {
            const pattern = c[k];
            if (pattern === undefined) continue;
            const at = `${t.name}.classify[${i}].${k}`;
            for (const [re, what] of notRe2) if (re.test(pattern.replace(/\\\\/g, ''))) bad.push(`${at}: ${what}`);
            const concrete = pattern.replace(tenantVariable, (_m, v: string) => quoteMeta(tenant[v] ?? ''));
            try {
              new RegExp(concrete, 'u');
            } catch (err) {
              bad.push(`${at}: ${(err as Error).message}`);
            }
          }
        });
      }
      expect(bad).toEqual([]);
    });

    it('uses only tenant variables and labels that README.md documents', () => {
      const texts = toolsOf(profile).flatMap((t) => (t.classify ?? []).flatMap((c) => Object.values(c).filter((v): v is string => typeof v === 'string')));
      const vars = new Set(texts.flatMap((s) => [...s.matchAll(tenantVariable)].map((m) => m[1]!)));
      expect([...vars].filter((v) => !(v in tenant) || !readme.includes(`\`${v}\``))).toEqual([]);
      expect([...new Set(allLabels(profile))].filter((l) => !readme.includes(`\`${l}\``))).toEqual([]);
    });

    it('is accepted by the policy compiler with the documented tenant variables', () => {
      const { problems, data } = compilePolicy(policyFor(profile, tenant), new Map([[profile.metadata.name!, profile]]));
      expect(problems).toEqual([]);
      expect(Object.keys(data!.toolgate.compiled.servers[profile.spec.service]!.tools).sort()).toEqual(toolsOf(profile).map((t) => t.name).sort());
    });
  });

  it('fails to compile when a tenant variable a profile needs is missing', () => {
    const gmail = profiles.find((l) => l.profile.metadata.name === 'gmail')!.profile;
    const { problems } = compilePolicy(policyFor(gmail, {}), new Map([['gmail', gmail]]));
    expect(problems.map((p) => p.message).join('\n')).toContain('{company_domain}');
  });
});

// What the classifiers do to real-looking calls. The evaluator below walks field paths and
// applies conditions the way pkg/policy/rego/args.rego does, on the compiler's output, so
// these cases check the profiles' patterns rather than restate them.
function reach(args: unknown, path: Array<string | number>): unknown[] {
  let vals: unknown[] = [args];
  for (const seg of path) {
    vals = vals.flatMap((v) => {
      if (seg === '*') return Array.isArray(v) ? v : [];
      if (typeof seg === 'number') return Array.isArray(v) && seg < v.length ? [v[seg]] : [];
      return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, seg) ? [(v as Record<string, unknown>)[seg]] : [];
    });
  }
  return vals;
}

function holds(c: CompiledClassifier, args: unknown): boolean {
  const vals = reach(args, c.path);
  const strings = vals.flatMap((v) => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []));
  const present = vals.some((v) => v !== null);
  const re = () => new RegExp(String(c.value), 'u');
  switch (c.op) {
    case 'contains': return strings.some((s) => s.includes(String(c.value)));
    case 'notContains': return present && !strings.some((s) => s.includes(String(c.value)));
    case 'matches': return strings.some((s) => re().test(s));
    case 'notMatches': return present && !strings.some((s) => re().test(s));
    case 'equals': return vals.flatMap((v) => (Array.isArray(v) ? v : [v])).some((x) => (typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? JSON.stringify(x) : undefined) === c.value);
    case 'present': return c.value === true ? present : !present;
    case 'greaterThan': return vals.some((v) => typeof v === 'number' && v > Number(c.value));
    case 'lessThan': return vals.some((v) => typeof v === 'number' && v < Number(c.value));
    case 'lengthGreaterThan': return vals.some((v) => size(v) !== undefined && size(v)! > Number(c.value));
    case 'lengthLessThan': return vals.some((v) => size(v) !== undefined && size(v)! < Number(c.value));
  }
}

function size(v: unknown): number | undefined {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  return undefined;
}

const compiledTools = new Map<string, Record<string, CompiledTool>>();
function labelsFor(service: string, tool: string, args: Record<string, unknown>): string[] {
  if (!compiledTools.has(service)) {
    const profile = profiles.find((l) => l.profile.spec.service === service)!.profile;
    const { data, problems } = compilePolicy(policyFor(profile, tenant), new Map([[profile.metadata.name!, profile]]));
    if (!data) throw new Error(JSON.stringify(problems));
    compiledTools.set(service, data.toolgate.compiled.servers[service]!.tools);
  }
  const t = compiledTools.get(service)![tool];
  if (!t) throw new Error(`${service} has no tool ${tool}`);
  return [...new Set([...t.labels, ...t.classifiers.filter((c) => holds(c, args)).flatMap((c) => c.labels)])].sort();
}

const addresses = (n: number, domain: string) => Array.from({ length: n }, (_, i) => `user${i}@${domain}`);
const awsKey = `AKIA${'ABCDEFGHIJKLMNOP'}`;

interface Case {
  name: string;
  service: string;
  tool: string;
  args: Record<string, unknown>;
  has?: string[];
  lacks?: string[];
}

const cases: Case[] = [
  { name: 'mail to a colleague is internal only', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com'], subject: 's', body: 'hi' }, has: ['scope:internal'], lacks: ['scope:external', 'data:secret'] },
  { name: 'display-name form and upper case still internal', service: 'gmail', tool: 'send_email', args: { to: ['Bob <Bob@ACME.com>'], subject: 's', body: 'hi' }, has: ['scope:internal'], lacks: ['scope:external'] },
  { name: 'one outsider among colleagues makes mail external', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com', 'eve@evil.io'], subject: 's', body: 'hi' }, has: ['scope:external'] },
  { name: 'an outsider in cc makes mail external', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com'], cc: ['eve@evil.io'], subject: 's', body: 'hi' }, has: ['scope:external'] },
  { name: 'an outsider smuggled into one element is external', service: 'gmail', tool: 'send_email', args: { to: ['eve@evil.io, bob@acme.com'], subject: 's', body: 'hi' }, has: ['scope:external'], lacks: ['scope:internal'] },
  { name: 'a look-alike domain is external', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com.evil.io', 'bob@acmeXcom'], subject: 's', body: 'hi' }, has: ['scope:external'], lacks: ['scope:internal'] },
  { name: 'an outsider at position 9 is caught', service: 'gmail', tool: 'send_email', args: { to: [...addresses(9, 'acme.com'), 'eve@evil.io'], subject: 's', body: 'hi' }, has: ['scope:external'] },
  { name: 'more than ten recipients count as external', service: 'gmail', tool: 'send_email', args: { to: addresses(11, 'acme.com'), subject: 's', body: 'hi' }, has: ['scope:external'], lacks: ['scope:bulk'] },
  { name: 'more than 50 recipients is bulk', service: 'gmail', tool: 'send_email', args: { to: addresses(51, 'acme.com'), subject: 's', body: 'hi' }, has: ['scope:bulk'] },
  { name: 'an AWS key in the body is a secret', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com'], subject: 's', body: `key ${awsKey}` }, has: ['data:secret'] },
  { name: 'attaching an SSH key is a secret', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com'], subject: 's', body: 'hi', attachments: ['/home/u/.ssh/id_ed25519'] }, has: ['data:secret', 'data:attachment'] },
  { name: 'bcc is flagged', service: 'gmail', tool: 'send_email', args: { to: ['bob@acme.com'], bcc: ['carol@acme.com'], subject: 's', body: 'hi' }, has: ['data:bcc-used'], lacks: ['scope:external'] },
  { name: 'a draft to an outsider is not outbound', service: 'gmail', tool: 'draft_email', args: { to: ['eve@evil.io'], subject: 's', body: 'hi' }, lacks: ['scope:external'] },
  { name: 'a filter forwarding outside is external', service: 'gmail', tool: 'create_filter', args: { criteria: { from: 'x' }, action: { forward: 'eve@evil.io' } }, has: ['scope:external', 'data:forwarding'] },

  { name: 'reading a file is harmless', service: 'filesystem', tool: 'read_text_file', args: { path: '/srv/app/README.md' }, lacks: ['data:secret'] },
  { name: 'reading .env is secret', service: 'filesystem', tool: 'read_text_file', args: { path: '/srv/app/.env' }, has: ['data:secret'] },
  { name: 'writing .bashrc is execution', service: 'filesystem', tool: 'write_file', args: { path: '/home/u/.bashrc', content: 'x' }, has: ['category:exec'] },
  { name: 'moving into a git hook is execution', service: 'filesystem', tool: 'move_file', args: { source: '/tmp/x', destination: '/repo/.git/hooks/pre-commit' }, has: ['category:exec'] },
  { name: 'writing source code is not execution', service: 'filesystem', tool: 'write_file', args: { path: '/repo/src/main.ts', content: 'x' }, lacks: ['category:exec', 'data:secret'] },

  { name: 'pushing to main of the org is production', service: 'github', tool: 'push_files', args: { owner: 'Acme-Corp', repo: 'r', branch: 'main', files: [{ path: 'a.ts', content: 'x' }], message: 'm' }, has: ['scope:internal', 'env:production'], lacks: ['scope:external'] },
  { name: 'pushing a workflow to a feature branch is execution', service: 'github', tool: 'push_files', args: { owner: 'acme-corp', repo: 'r', branch: 'feat/x', files: [{ path: '.github/workflows/ci.yml', content: 'x' }], message: 'm' }, has: ['category:exec'], lacks: ['env:production'] },
  { name: 'commenting on another org\'s issue is external communication', service: 'github', tool: 'add_issue_comment', args: { owner: 'someone', repo: 'r', issue_number: 1, body: 'hi' }, has: ['scope:external', 'category:communication'] },
  { name: 'a repository without private: true is public', service: 'github', tool: 'create_repository', args: { name: 'x' }, has: ['scope:public'] },
  { name: 'a private repository is not public', service: 'github', tool: 'create_repository', args: { name: 'x', private: true }, lacks: ['scope:public'] },
  { name: 'forking to the personal account is external', service: 'github', tool: 'fork_repository', args: { owner: 'acme-corp', repo: 'r' }, has: ['scope:external'] },

  { name: '@channel is bulk', service: 'slack', tool: 'slack_post_message', args: { channel_id: 'C1', text: '<!channel> deploy done' }, has: ['scope:bulk'] },
  { name: 'a Slack token in a message is a secret', service: 'slack', tool: 'slack_post_message', args: { channel_id: 'C1', text: 'use xoxb-1234567890-abcdefghij' }, has: ['data:secret'] },
  { name: 'a plain message is neither', service: 'slack', tool: 'slack_post_message', args: { channel_id: 'C1', text: 'lunch?' }, lacks: ['scope:bulk', 'data:secret'] },

  { name: 'a SELECT is not destructive', service: 'postgres', tool: 'query', args: { sql: 'SELECT id, deleted_at, updated FROM users WHERE dropped = false' }, lacks: ['risk:destructive', 'category:exec', 'data:secret'] },
  { name: 'DROP is destructive', service: 'postgres', tool: 'query', args: { sql: 'drop table users' }, has: ['risk:destructive'] },
  { name: 'escaping the read-only transaction is destructive', service: 'postgres', tool: 'query', args: { sql: 'COMMIT; UPDATE users SET role = \'admin\'' }, has: ['risk:destructive'] },
  { name: 'COPY TO PROGRAM is execution', service: 'postgres', tool: 'query', args: { sql: 'COPY (SELECT 1) TO PROGRAM \'curl http://x\'' }, has: ['category:exec'] },

  { name: 'a prod namespace is production', service: 'kubernetes', tool: 'kubectl_delete', args: { resourceType: 'pod', name: 'x', namespace: 'payments-prod' }, has: ['env:production'] },
  { name: 'a dev namespace is not', service: 'kubernetes', tool: 'kubectl_delete', args: { resourceType: 'pod', name: 'x', namespace: 'dev' }, lacks: ['env:production'] },
  { name: 'all namespaces include production', service: 'kubernetes', tool: 'kubectl_delete', args: { resourceType: 'pod', allNamespaces: true, labelSelector: 'a=b' }, has: ['env:production'] },
  { name: 'exec towards instance metadata is SSRF', service: 'kubernetes', tool: 'exec_in_pod', args: { name: 'p', command: ['curl', 'http://169.254.169.254/latest/meta-data/iam/'] }, has: ['infra:cloud-metadata', 'category:exec'] },
  { name: 'a privileged pod manifest is execution', service: 'kubernetes', tool: 'kubectl_apply', args: { manifest: 'kind: Pod\nspec:\n  containers:\n  - securityContext:\n      privileged: true\n' }, has: ['category:exec'] },
  { name: 'reading secrets is secret', service: 'kubernetes', tool: 'kubectl_get', args: { resourceType: 'secrets', namespace: 'default' }, has: ['data:secret'] },

  { name: 'fetching instance metadata is SSRF', service: 'everything', tool: 'gzip-file-as-resource', args: { name: 'x.gz', data: 'http://169.254.169.254/latest/meta-data/' }, has: ['infra:cloud-metadata'] },
  { name: 'fetching GCP metadata by name is SSRF', service: 'everything', tool: 'gzip-file-as-resource', args: { data: 'http://metadata.google.internal/computeMetadata/v1/' }, has: ['infra:cloud-metadata'] },
  { name: 'fetching a private address is internal-network', service: 'everything', tool: 'gzip-file-as-resource', args: { data: 'http://10.0.0.7:8080/admin' }, has: ['infra:internal-network'], lacks: ['infra:cloud-metadata'] },
  { name: 'fetching a public URL is neither', service: 'everything', tool: 'gzip-file-as-resource', args: { data: 'https://raw.githubusercontent.com/modelcontextprotocol/servers/main/README.md' }, lacks: ['infra:cloud-metadata', 'infra:internal-network'] },

  { name: 'submitting dispute evidence is final', service: 'stripe', tool: 'update_dispute', args: { dispute: 'dp_1', submit: true }, has: ['risk:destructive', 'category:financial'] },

  { name: 'a broadcast to 51 contacts is bulk', service: 'business-automation', tool: 'send_bulk_message', args: { recipients: addresses(51, 'example.com'), body: 'sale' }, has: ['scope:bulk'] },
  { name: 'a broadcast to 50 contacts is not', service: 'business-automation', tool: 'send_bulk_message', args: { recipients: addresses(50, 'example.com'), body: 'sale' }, lacks: ['scope:bulk'] },
];

describe('profile classifiers on example calls', () => {
  it.each(cases.map((c) => [`${c.service}/${c.tool}: ${c.name}`, c] as const))('%s', (_name, c) => {
    const labels = labelsFor(c.service, c.tool, c.args);
    for (const l of c.has ?? []) expect(labels, `expected ${l}`).toContain(l);
    for (const l of c.lacks ?? []) expect(labels, `did not expect ${l}`).not.toContain(l);
  });
});
