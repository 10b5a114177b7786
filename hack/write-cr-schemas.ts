// Writes a strict JSON Schema per toolgate kind into build/schemas, named the way kubeconform's
// -schema-location template expects, so samples and profiles are validated offline (the
// machine has no route to kubeconform's default schema registry).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFor } from '../api/v1alpha1/crd.ts';
import { kinds, type KindDefinition } from '../api/v1alpha1/index.ts';

/** Unknown fields are errors, as with the API server's strict field validation. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'x-kubernetes-validations' ? v : closed(v);
  if (out.type === 'object' && out.properties && !out['x-kubernetes-preserve-unknown-fields'] && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

const dir = join(import.meta.dirname, '..', 'build', 'schemas');
mkdirSync(dir, { recursive: true });
for (const def of Object.values(kinds) as KindDefinition[]) {
  const crd = crdFor(def) as { spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: Record<string, unknown> } }> } };
  for (const v of crd.spec.versions) {
    const schema = closed(v.schema.openAPIV3Schema) as Record<string, unknown>;
    (schema.properties as Record<string, unknown>).metadata = { type: 'object' };
    writeFileSync(join(dir, `${def.kind.toLowerCase()}-toolgate-${v.name}.json`), JSON.stringify(schema, null, 2));
  }
}
