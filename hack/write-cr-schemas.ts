// Writes a strict JSON Schema per toolgate kind into build/schemas, named the way kubeconform's
// -schema-location template expects, so samples and profiles are validated offline (the
// machine has no route to kubeconform's default schema registry).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closedSchema as closed, crdFor } from '../api/v1alpha1/crd.ts';
import { kinds, type KindDefinition } from '../api/v1alpha1/index.ts';

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
