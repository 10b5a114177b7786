// The /.manifest of an OPA bundle (OPA docs, "Bundle File Format"), as toolgate writes it and
// reads it back. Open to further fields: OPA defines more (rego_version, file_rego_versions)
// and a reader needs only these.
import { Type, type Static } from '@sinclair/typebox';
import { contract } from './contract.ts';

export const WasmResolverSchema = Type.Object({
  entrypoint: Type.String({ minLength: 1, description: 'Rule path the wasm module answers, e.g. toolgate/decision.' }),
  module: Type.String({ minLength: 1, description: 'Path of the module in the bundle, e.g. /policy.wasm.' }),
});

export const BundleManifestSchema = Type.Object({
  revision: Type.String({ description: 'The bundle revision (toolgate: the content hash).' }),
  roots: Type.Array(Type.String(), { description: 'Paths under data this bundle owns; "" owns everything.' }),
  wasm: Type.Optional(Type.Array(WasmResolverSchema)),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export type WasmResolver = Static<typeof WasmResolverSchema>;
export type BundleManifest = Static<typeof BundleManifestSchema>;

/** A .manifest file as found: OPA lets revision and roots default ('' and ['']). */
export const manifestFileContract = contract('.manifest', Type.Partial(BundleManifestSchema));
