// `make release`: the kubectl-mcp plugin archive krew installs, and the krew manifest naming its
// real sha256.
//
//   kubectl-mcp   the plugin as one ES module with its dependencies (esbuild), runs on Node >= 24
//   policy.wasm   the policy program `explain` evaluates (looked for beside the executable)
//   LICENSE
//
// The archive is reproducible: entries in a fixed order with fixed owner, mode and mtime, gzip
// without a timestamp, so the same commit and lockfile give the same sha256 on any machine — a
// published digest can be checked by rebuilding. The manifest is written from config/krew/mcp.yaml
// (the template, which keeps a zero digest) to <out>/mcp.yaml with uri and sha256 filled in.
//
// Usage: node hack/release.ts [--out DIR] [--wasm FILE]   (default build/release, build/policy/policy.wasm)
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { pack } from 'tar-stream';
import { parseDocument } from 'yaml';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string' }, wasm: { type: 'string' } } });
const out = resolve(values.out ?? join(root, 'build/release'));
const wasmPath = resolve(values.wasm ?? join(root, 'build/policy/policy.wasm'));
const { version: packageVersion } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const version = `v${packageVersion}`;
const archiveName = `kubectl-mcp-${version}.tar.gz`;

mkdirSync(out, { recursive: true });
const bundled = await build({
  entryPoints: [join(root, 'cmd/kubectl-mcp/main.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
  // Bundled CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __toolgateCreateRequire } from 'node:module';\nconst require = __toolgateCreateRequire(import.meta.url);" },
});
const plugin = bundled.outputFiles[0]!.contents;
if (!Buffer.from(plugin.subarray(0, 2)).equals(Buffer.from('#!'))) throw new Error('the bundled plugin lost its #!/usr/bin/env node line');

const entries: Array<{ name: string; mode: number; data: Buffer }> = [
  { name: 'kubectl-mcp', mode: 0o755, data: Buffer.from(plugin) },
  { name: 'policy.wasm', mode: 0o644, data: readFileSync(wasmPath) },
  { name: 'LICENSE', mode: 0o644, data: readFileSync(join(root, 'LICENSE')) },
];
const tar = pack();
const chunks: Buffer[] = [];
tar.on('data', (c: unknown) => chunks.push(c as Buffer));
const ended = new Promise<void>((ok, fail) => tar.on('end', ok).on('error', fail));
for (const e of entries) {
  tar.entry({ name: e.name, mode: e.mode, size: e.data.length, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, e.data);
}
tar.finalize();
await ended;
// Node's gzip header carries mtime 0 and a fixed OS byte: no timestamp in the archive.
const archive = gzipSync(Buffer.concat(chunks), { level: 9 });
const sha256 = createHash('sha256').update(archive).digest('hex');
writeFileSync(join(out, archiveName), archive);
writeFileSync(join(out, 'kubectl-mcp'), plugin);
chmodSync(join(out, 'kubectl-mcp'), 0o755);

const manifest = parseDocument(readFileSync(join(root, 'config/krew/mcp.yaml'), 'utf8'));
// The template's own header (it describes the template) gives way to the release's.
const first = (manifest.contents as { items?: Array<{ key?: { commentBefore?: string | null } }> } | null)?.items?.[0]?.key;
if (first) first.commentBefore = null;
manifest.commentBefore = ` krew plugin manifest for kubectl mcp ${version}, written by \`make release\` (hack/release.ts).\n`
  + ` Install: kubectl krew install --manifest=mcp.yaml --archive=${archiveName}`;
manifest.setIn(['spec', 'version'], version);
const platforms = manifest.getIn(['spec', 'platforms']) as { items: unknown[] };
for (let i = 0; i < platforms.items.length; i++) {
  manifest.setIn(['spec', 'platforms', i, 'uri'], `https://github.com/toolgate/toolgate/releases/download/${version}/${archiveName}`);
  manifest.setIn(['spec', 'platforms', i, 'sha256'], sha256);
}
writeFileSync(join(out, 'mcp.yaml'), manifest.toString());
console.log(JSON.stringify({ archive: join(out, archiveName), bytes: archive.length, sha256, manifest: join(out, 'mcp.yaml'), pluginBytes: plugin.length }));
