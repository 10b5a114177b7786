// `make dist`: the operator and the authorizer as the image runs them — one ES module each
// (and one for the policy worker thread), bundled with esbuild from cmd/<name>/main.ts into
// build/dist/. Why: loading node_modules file by file costs the authorizer ~40 MiB of RSS and
// ~33 MiB of V8 heap at start (mostly @kubernetes/client-node importing every generated API
// model, which tree-shaking drops; measured in bench/README.md "Loading less"). The sources stay
// what tests and `make run` execute; the bundle is the same code, not minified, names kept.
//
// One-byte source: V8 keeps each script's source text in its heap (lazy compilation,
// Function.prototype.toString), as Latin-1 when every character fits and as UTF-16 otherwise.
// esbuild escapes non-ASCII characters in code but copies comments verbatim, so a few curly
// quotes in dependencies' comments made the authorizer's 7.7 MB source a 15 MiB string. They are
// replaced in comments (ascii-source.ts), which keeps every line and column of the source map.
//
// Left outside the bundle (loaded from node_modules at run time, so they ship as production
// dependencies): @aws-sdk/* (imported only when an S3 audit sink is configured) and the Envoy
// protos @grpc/grpc-js-xds carries (read as files by protos.ts).
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { asciiComments } from './ascii-source.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The bundles, by output file (relative to the output directory) → source entry point. */
export const bundles = {
  'authorizer.mjs': 'cmd/authorizer/main.ts',
  'operator.mjs': 'cmd/operator/main.ts',
  'policy-worker.mjs': 'pkg/policy/pool/worker.ts',
} as const;

/** Packages loaded from node_modules at run time instead of being bundled (see above). */
export const external = ['@aws-sdk/*'];

/** Files the bundled code reads beside itself (new URL(…, import.meta.url) in the sources). */
const besideBundle = { 'proto/health.proto': 'authorizer/src/extauthz/proto/health.proto' };

export const defaultOutDir = path.join(root, 'build', 'dist');

export async function bundleEntryPoints(outDir = defaultOutDir): Promise<{ file: string; bytes: number }[]> {
  rmSync(outDir, { recursive: true, force: true });
  const options: BuildOptions = {
    absWorkingDir: root,
    entryPoints: Object.entries(bundles).map(([out, src]) => ({ in: src, out: out.replace(/\.mjs$/, '') })),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external,
    // CommonJS dependencies call require(); an ES module has none, so give each bundle one.
    banner: { js: "import { createRequire as __toolgateCreateRequire } from 'node:module';\nconst require = __toolgateCreateRequire(import.meta.url);" },
    define: {
      TOOLGATE_POLICY_WORKER: JSON.stringify('./policy-worker.mjs'),
      // A module that is also a CLI (`if (import.meta.main)`, e.g. audit/verify.ts) must not run as
      // one inside a bundle, where import.meta is the bundle's and main is true.
      'import.meta.main': 'false',
    },
    keepNames: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  };
  // Written here, once each, so the bundles get their one-byte source on the way out.
  const result = await build({ ...options, write: false });
  mkdirSync(outDir, { recursive: true });
  for (const out of result.outputFiles) {
    writeFileSync(out.path, out.path.endsWith('.mjs') ? await asciiComments(out.text, path.relative(root, out.path)) : out.contents);
  }
  for (const [to, from] of Object.entries(besideBundle)) {
    mkdirSync(path.dirname(path.join(outDir, to)), { recursive: true });
    copyFileSync(path.join(root, from), path.join(outDir, to));
  }
  return Object.entries(result.metafile!.outputs)
    .filter(([file]) => file.endsWith('.mjs'))
    .map(([file, o]) => ({ file: path.relative(root, path.resolve(root, file)), bytes: o.bytes }));
}

if (import.meta.main) {
  const out = process.argv[2] ? path.resolve(process.argv[2]) : defaultOutDir;
  for (const { file, bytes } of await bundleEntryPoints(out)) console.log(`dist -> ${file} (${(bytes / 1e6).toFixed(1)} MB)`);
}
