// Strict JSON Schemas for kubeconform, written from a live API server's OpenAPI v3 documents:
// kubeconform's default registry is on the internet, which these machines cannot reach, and the
// API server the tests run is the authority on the very version the chart targets anyway.
// One file per kind, named as `-schema-location '<dir>/{{.ResourceKind}}{{.KindSuffix}}.json'`
// expects, each carrying its group-version's definitions. Strict as kubeconform's "-strict"
// registry: objects with declared properties refuse others (unless marked to keep unknown fields).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

type Schema = Record<string, unknown>;
type Get = (path: string) => Promise<unknown>;

function strict(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(strict);
  if (!s || typeof s !== 'object') return s;
  const o: Schema = {};
  for (const [k, v] of Object.entries(s)) o[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', '#/definitions/') : strict(v);
  // IntOrString (ports, maxUnavailable) and Quantity accept a number or a string.
  if (o['x-kubernetes-int-or-string'] === true) return { oneOf: [{ type: 'integer' }, { type: 'string' }] };
  if (o.properties && o.additionalProperties === undefined && o['x-kubernetes-preserve-unknown-fields'] !== true) o.additionalProperties = false;
  return o;
}

/** Writes one schema per kind the API server serves; returns how many. */
export async function writeKubeconformSchemas(get: Get, dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const index = await get('/openapi/v3') as { paths: Record<string, { serverRelativeURL: string }> };
  let n = 0;
  for (const [path, { serverRelativeURL }] of Object.entries(index.paths)) {
    if (!/^(api\/v1|apis\/[^/]+\/[^/]+)$/.test(path)) continue;
    const doc = await get(serverRelativeURL) as { components?: { schemas?: Record<string, Schema> } };
    const definitions = strict(doc.components?.schemas ?? {}) as Record<string, Schema>;
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      const gvks = (schema['x-kubernetes-group-version-kind'] ?? []) as Array<{ group: string; version: string; kind: string }>;
      for (const gvk of gvks) {
        // The group-version this document serves (List and WatchEvent kinds name several).
        if (path !== (gvk.group === '' ? `api/${gvk.version}` : `apis/${gvk.group}/${gvk.version}`)) continue;
        const suffix = gvk.group === '' ? `-${gvk.version}` : `-${gvk.group.split('.')[0]}-${gvk.version}`;
        await writeFile(join(dir, `${gvk.kind.toLowerCase()}${suffix}.json`), JSON.stringify({ ...definitions[name], definitions }));
        n++;
      }
    }
  }
  return n;
}
