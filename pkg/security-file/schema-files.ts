// The files under schemas/, by name, exactly as `node hack/write-json-schemas.ts` writes them:
// the two file formats and each toolgate kind as YAML (for `# yaml-language-server: $schema=`
// lines and editors' schema associations), unknown fields refused as the API server refuses them.
import { closedSchema, crdFor } from '../../api/v1alpha1/crd.ts';
import { apiVersion, kinds, type KindDefinition } from '../../api/v1alpha1/index.ts';
import { packSchema, schemaBase, securityFileSchema } from './json-schema.ts';

export function schemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const put = (name: string, schema: unknown) => files.set(name, `${JSON.stringify(schema, null, 2)}\n`);
  put('mcp-security.schema.json', securityFileSchema);
  put('pack.schema.json', packSchema);
  for (const def of Object.values(kinds) as KindDefinition[]) {
    const crd = crdFor(def) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> } };
    const schema = closedSchema(crd.spec.versions[0]!.schema.openAPIV3Schema) as Record<string, unknown> & { properties: Record<string, unknown>; required?: string[] };
    put(`${def.kind.toLowerCase()}.schema.json`, {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: `${schemaBase}/${def.kind.toLowerCase()}.schema.json`,
      title: def.kind,
      ...schema,
      required: ['apiVersion', 'kind', 'metadata', ...(schema.required ?? [])],
      properties: {
        apiVersion: { type: 'string', const: apiVersion },
        kind: { type: 'string', const: def.kind },
        metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, namespace: { type: 'string' } } },
        ...schema.properties,
      },
    });
  }
  return files;
}
