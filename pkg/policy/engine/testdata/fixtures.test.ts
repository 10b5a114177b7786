// The fixture CRs must be objects the API server would accept, or the decision table would test
// policies no user can write. ajv checks the OpenAPI schema of the generated CRDs (with unknown
// fields rejected); the CEL rules are covered by compilePolicy, which re-checks them.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { closedSchema as closed, crdFor } from '../../../../api/v1alpha1/crd.ts';
import { kinds, type KindDefinition } from '../../../../api/v1alpha1/index.ts';
import { compilePolicy } from '../../compiler/index.ts';
import { fixturePolicy, fixtureProfiles, readDocuments } from './load.ts';

function validator(def: KindDefinition) {
  const crd = crdFor(def) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> } };
  const schema = closed(crd.spec.versions[0]!.schema.openAPIV3Schema) as Record<string, unknown>;
  (schema.properties as Record<string, unknown>).metadata = { type: 'object', required: ['name'] };
  return new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
}

describe('decision-table fixtures', () => {
  it.each([
    ['profiles.yaml', kinds.McpProfile],
    ['policy.yaml', kinds.McpSecurityPolicy],
  ] as const)('%s is valid against the %s CRD schema', (file, def) => {
    const validate = validator(def);
    const docs = readDocuments(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      const ok = validate(doc);
      expect(validate.errors ?? [], JSON.stringify((doc as { metadata?: unknown }).metadata)).toEqual([]);
      expect(ok).toBe(true);
      expect(doc).toMatchObject({ apiVersion: 'toolgate.io/v1alpha1', kind: def.kind });
    }
  });

  it('the schema check rejects an unknown field (so the check above can fail)', () => {
    const validate = validator(kinds.McpProfile);
    const [doc] = readDocuments('profiles.yaml') as Array<{ spec: Record<string, unknown> }>;
    expect(validate({ ...doc, spec: { ...doc!.spec, tolls: [] } })).toBe(false);
  });

  it('the policy compiles without problems', () => {
    const { problems, counts } = compilePolicy(fixturePolicy(), fixtureProfiles());
    expect(problems).toEqual([]);
    expect(counts.policies).toBe(fixturePolicy().spec.policies.length);
  });
});
