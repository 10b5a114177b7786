// Builds and opens OPA bundles: a gzipped tar of /.manifest, /data.json, /policy.wasm, any
// extra files (e.g. Rego sources) and, when signed, /.signatures.json. The archive depends
// only on its inputs (canonical JSON, sorted entries, fixed tar and gzip headers), so the
// same policy always produces the same bytes and the revision (a content hash) only moves
// when the meaning does.
import { createHash } from 'node:crypto';
import { manifestFileContract, type BundleManifest } from '../contracts/bundle.ts';
import { isObject } from '../lang/is-object.ts';
import { canonicalStringify, compareGoStrings } from './opa-json.ts';
import { bundlePath, signaturesFileName, signBundleFiles, verifyBundleSignature, type BundleFile, type BundleSigner, type VerifiedSignature, type VerifyOptions } from './sign.ts';
import { ArchiveError, gunzipLimited, gzipDeterministic, readTar, writeTar, type TarLimits } from './tar.ts';

export type { BundleManifest, WasmResolver } from '../contracts/bundle.ts';

export const manifestFileName = '.manifest';
export const dataFileName = 'data.json';
export const wasmFileName = 'policy.wasm';
/** Refuse archives that inflate past this by default; compiled policies are far smaller. */
export const defaultMaxBundleBytes = 64 * 1024 * 1024;

export interface BundleInputs {
  /** The data document: a JSON object, or its serialized bytes when already canonical. */
  data: Record<string, unknown> | Uint8Array;
  /** The compiled policy, stored as /policy.wasm. */
  wasm?: Uint8Array;
  /** Wasm entrypoints ("toolgate/decision") recorded in the manifest; require `wasm`. */
  entrypoints?: readonly string[];
  /** Paths under `data` this bundle owns ("toolgate"); '' owns everything. */
  roots: readonly string[];
  metadata?: Record<string, unknown>;
  /** Further files, e.g. Rego sources for an OPA that cannot run wasm. */
  files?: readonly BundleFile[];
}

export interface BuildBundleInput extends BundleInputs {
  /** Defaults to bundleRevision(inputs). */
  revision?: string;
  /** Adds /.signatures.json. */
  signer?: BundleSigner;
}

export interface BuiltBundle {
  revision: string;
  manifest: BundleManifest;
  /** The gzipped tarball, as served. */
  archive: Buffer;
  /** The uncompressed entries, in archive order. */
  files: BundleFile[];
  signed: boolean;
}

export interface OpenedBundle {
  manifest: BundleManifest;
  /** Every file by path without the leading '/'. */
  files: Map<string, Buffer>;
  data: Record<string, unknown>;
  wasm?: Buffer;
  /** Present when the bundle was verified. */
  signature?: VerifiedSignature;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

const reservedPaths = new Set([manifestFileName, dataFileName, wasmFileName, signaturesFileName]);

function dataBytes(data: BundleInputs['data']): Buffer {
  if (!(data instanceof Uint8Array)) {
    if (!isObject(data)) throw new BundleError('the data document must be a JSON object');
    return Buffer.from(canonicalStringify(data));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (err) {
    throw new BundleError(`the data document is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw new BundleError('the data document must be a JSON object');
  return Buffer.from(data);
}

function extraFiles(files: readonly BundleFile[] = []): BundleFile[] {
  return files.map((f) => {
    const path = bundlePath(f.name);
    if (path === '' || path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) throw new BundleError(`invalid bundle file path: ${f.name}`);
    if (reservedPaths.has(path)) throw new BundleError(`${path} is written by buildBundle itself`);
    return { name: path, data: Buffer.from(f.data) };
  });
}

function checkRoots(roots: readonly string[], data: unknown): void {
  for (const root of roots) {
    if (typeof root !== 'string' || root.startsWith('/') || root.endsWith('/')) throw new BundleError(`invalid bundle root ${JSON.stringify(root)}`);
  }
  const rootPaths = roots.map((r) => (r === '' ? [] : r.split('/')));
  const covered = (path: string[]) => rootPaths.some((r) => r.length <= path.length && r.every((seg, i) => seg === path[i]));
  const leadsToRoot = (path: string[]) => rootPaths.some((r) => r.length > path.length && path.every((seg, i) => seg === r[i]));
  // OPA refuses to activate a bundle whose data reaches outside its roots; say so at build time.
  const walk = (value: unknown, path: string[]): void => {
    if (covered(path)) return;
    if (path.length > 0 && (!leadsToRoot(path) || typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new BundleError(`data path /${path.join('/')} is outside the bundle roots [${roots.join(', ')}]`);
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, [...path, k]);
  };
  walk(data, []);
}

function manifestFor(inputs: BundleInputs, revision: string): BundleManifest {
  const entrypoints = inputs.entrypoints ?? [];
  if (entrypoints.length > 0 && !inputs.wasm) throw new BundleError('wasm entrypoints given without a wasm module');
  for (const e of entrypoints) {
    if (!e || e.startsWith('/')) throw new BundleError(`invalid wasm entrypoint ${JSON.stringify(e)}`);
  }
  const manifest: BundleManifest = { revision, roots: [...inputs.roots] };
  if (entrypoints.length > 0) manifest.wasm = entrypoints.map((entrypoint) => ({ entrypoint, module: `/${wasmFileName}` }));
  if (inputs.metadata) manifest.metadata = inputs.metadata;
  return manifest;
}

/**
 * The content hash used as bundle revision and ETag: sha256 over the data document, the
 * wasm module and everything else that shapes the bundle (roots, entrypoints, metadata,
 * extra files), each part length-prefixed so no two inputs can run together.
 */
export function bundleRevision(inputs: BundleInputs): string {
  return revisionOf(dataBytes(inputs.data), inputs);
}

function revisionOf(data: Buffer, inputs: BundleInputs): string {
  const hash = createHash('sha256');
  const part = (label: string, bytes: Uint8Array) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(bytes.length));
    hash.update(`${label}\0`).update(len).update(bytes);
  };
  part('data', data);
  part('wasm', inputs.wasm ?? new Uint8Array());
  part('shape', Buffer.from(canonicalStringify({ roots: inputs.roots, entrypoints: inputs.entrypoints ?? [], metadata: inputs.metadata ?? null })));
  for (const f of extraFiles(inputs.files).sort((a, b) => compareGoStrings(a.name, b.name))) {
    part(`file:${f.name}`, f.data);
  }
  return hash.digest('hex');
}

/** Builds the bundle archive; signs it when a signer is given. */
export async function buildBundle(input: BuildBundleInput): Promise<BuiltBundle> {
  const data = dataBytes(input.data);
  checkRoots(input.roots, JSON.parse(data.toString('utf8')));
  const revision = input.revision ?? revisionOf(data, input);
  const manifest = manifestFor(input, revision);
  const files: BundleFile[] = [
    { name: manifestFileName, data: Buffer.from(canonicalStringify(manifest)) },
    { name: dataFileName, data },
    ...(input.wasm ? [{ name: wasmFileName, data: Buffer.from(input.wasm) }] : []),
    ...extraFiles(input.files),
  ];
  if (input.signer) files.push({ name: signaturesFileName, data: await signBundleFiles(files, input.signer) });
  files.sort((a, b) => compareGoStrings(a.name, b.name));
  const tar = await writeTar(files.map((f) => ({ name: `/${f.name}`, data: Buffer.from(f.data) })));
  return { revision, manifest, archive: gzipDeterministic(tar), files, signed: Boolean(input.signer) };
}

/**
 * The path OPA would give a tar entry: without a leading './' (GNU tar -C dir .) or '/'.
 * Refuses what could land outside the bundle or name one file two ways: an absolute path after
 * that, an empty, '.' or '..' segment.
 */
function entryPath(name: string): string {
  const path = bundlePath(name.startsWith('./') ? name.slice(2) : name);
  const segments = path.split('/');
  if (segments.includes('..')) throw new ArchiveError(`bundle path escapes the bundle: ${name}`);
  if (segments.some((s) => s === '' || s === '.')) throw new ArchiveError(`bundle path is not a clean relative path: ${JSON.stringify(name)}`);
  return path;
}

/**
 * The files of a bundle archive by path (leading '/' removed). Refuses archives that inflate
 * past maxBytes, hold links, devices, too many entries or a file twice (see readTar and
 * entryPath).
 */
export async function readBundleFiles(archive: Uint8Array, maxBytes = defaultMaxBundleBytes, limits: TarLimits = {}): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readTar(gunzipLimited(archive, maxBytes), limits)) {
    const path = entryPath(entry.name);
    if (files.has(path)) throw new ArchiveError(`duplicate bundle file: ${path}`);
    files.set(path, entry.data);
  }
  return files;
}

function parseJsonFile(raw: Buffer, name: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BundleError(`${name} is not JSON: ${(err as Error).message}`);
  }
}

function parseManifest(raw: Buffer | undefined): BundleManifest {
  if (!raw) return { revision: '', roots: [''] }; // OPA's defaults for a bundle without one
  const parsed = parseJsonFile(raw, manifestFileName);
  const problem = manifestFileContract.problem(parsed);
  if (problem) throw new BundleError(problem);
  const m = parsed as Partial<BundleManifest>;
  return { ...m, revision: m.revision ?? '', roots: m.roots ?? [''] };
}

/**
 * Opens a bundle archive. With `verify` options the signature is checked first (exactly
 * as OPA checks it) and nothing is trusted before it passes; `verify: false` skips that
 * deliberately, e.g. for tests or an unsigned development setup.
 */
export async function openBundle(archive: Uint8Array, opts: { verify: VerifyOptions | false; maxBytes?: number }): Promise<OpenedBundle> {
  const files = await readBundleFiles(archive, opts.maxBytes);
  const signature = opts.verify ? await verifyBundleSignature(files, opts.verify) : undefined;
  const manifest = parseManifest(files.get(manifestFileName));
  const rawData = files.get(dataFileName);
  let data: Record<string, unknown> = {};
  if (rawData) {
    const parsed = parseJsonFile(rawData, dataFileName);
    if (!isObject(parsed)) throw new BundleError(`${dataFileName} must hold a JSON object`);
    data = parsed;
  }
  const wasm = files.get(wasmFileName);
  return { manifest, files, data, ...(wasm ? { wasm } : {}), ...(signature ? { signature } : {}) };
}
