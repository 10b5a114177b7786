// The published JSON Schemas (schemas/): current with their sources, accepting the strategy
// document's examples and the shipped profiles, refusing what import refuses.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from './schema-files.ts';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const files = schemaFiles();
const ajv = new Ajv({ strict: false, allErrors: true });
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
function schema(name: string): ReturnType<typeof ajv.compile> {
  if (!compiled.has(name)) compiled.set(name, ajv.compile(JSON.parse(readFileSync(root(`schemas/${name}`), 'utf8')) as object));
  return compiled.get(name)!;
}
const yaml = (p: string) => parse(readFileSync(root(p), 'utf8')) as unknown;

describe('schemas/', () => {
  it('is what hack/write-json-schemas.ts writes (run it after changing api/ or the file formats)', () => {
    expect(readdirSync(root('schemas')).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(root(`schemas/${name}`), 'utf8'), name).toBe(text);
  });

  it('accepts the strategy document\'s §4.4 and §4.5 examples as is', () => {
    const file = schema('mcp-security.schema.json');
    expect(file(yaml('pkg/security-file/testdata/strategy-4.4-mcp-security.yaml')), JSON.stringify(file.errors)).toBe(true);
    const pack = schema('pack.schema.json');
    expect(pack(yaml('pkg/security-file/testdata/strategy-4.5-gmail-pack.yaml')), JSON.stringify(pack.errors)).toBe(true);
  });

  it('accepts every shipped profile and the samples as the CRDs\' YAML', () => {
    const profile = schema('mcpprofile.schema.json');
    for (const f of readdirSync(root('profiles')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
      expect(profile(yaml(`profiles/${f}`)), `${f}: ${JSON.stringify(profile.errors)}`).toBe(true);
    }
    const policy = schema('mcpsecuritypolicy.schema.json');
    expect(policy(yaml('config/samples/toolgate.io_v1alpha1_mcpsecuritypolicy.yaml')), JSON.stringify(policy.errors)).toBe(true);
  });

  it.each([
    ['a misspelt condition', { field: 'to', not_contain: 'x', set_labels: ['scope:external'] }],
    ['two conditions', { field: 'to', contains: 'a', matches: 'b', set_labels: ['scope:external'] }],
    ['no condition', { field: 'to', set_labels: ['scope:external'] }],
    ['a bad label', { field: 'to', contains: 'a', set_labels: ['External'] }],
  ])('refuses a classifier with %s', (_n, rule) => {
    const file = schema('mcp-security.schema.json');
    expect(file({ version: '1.0', policies: [], classifiers: { gmail: { send_email: [rule] } } })).toBe(false);
  });

  it('refuses an unknown top-level key, a bad duration and approval keys on a bad action', () => {
    const file = schema('mcp-security.schema.json');
    expect(file({ version: '1.0', policies: [], toolOverrides: {} })).toBe(false);
    expect(file({ version: '1.0', policies: [{ name: 'a', when: {}, action: 'require_approval', approvers: ['x'], timeout: '1 hour', priority: 1 }] })).toBe(false);
    expect(file({ version: '1.0', policies: [{ name: 'a', when: {}, action: 'ask', priority: 1 }] })).toBe(false);
  });
});
