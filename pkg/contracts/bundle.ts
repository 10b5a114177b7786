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

/** /.signatures.json (OPA v1/bundle/sign.go): exactly one JWS is supported. */
export const signaturesFileContract = contract('.signatures.json', Type.Object({
  signatures: Type.Array(Type.String(), { description: 'Compact JWS tokens; OPA supports exactly one.' }),
}));

export const SignedFileSchema = Type.Object({
  name: Type.String({ description: 'Path in the bundle, without a leading /.' }),
  hash: Type.String({ description: 'Hex digest of the file (structured files: of their OPA canonical JSON).' }),
  algorithm: Type.Optional(Type.String({ description: 'OPA hashing algorithm name, e.g. SHA-256.' })),
});

/** The JWS payload of a bundle signature. */
export const SignaturePayloadSchema = Type.Object({
  files: Type.Array(SignedFileSchema),
  keyid: Type.Optional(Type.String({ description: 'Deprecated key id (OPA reads it when neither config nor the JWS header name one).' })),
  scope: Type.Optional(Type.String()),
  iat: Type.Optional(Type.Number()),
  iss: Type.Optional(Type.String()),
});

export type SignedFileInfo = Static<typeof SignedFileSchema>;
export type SignaturePayload = Static<typeof SignaturePayloadSchema>;

export const signaturePayloadContract = contract('the signature payload', SignaturePayloadSchema);
